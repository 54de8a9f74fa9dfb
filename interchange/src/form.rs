//! Forms (Epic Smart Data Elements): filled-in forms with their answers, and the definitions of
//! forms and questions.

use chrono::{DateTime, NaiveDate, Utc};

use crate::value::Iv;
use crate::wire::{class_tag, record};

class_tag!(
    /// `@class` of [`FormAnswerMsg`].
    FormAnswerTag = "uk.ac.ucl.rits.inform.interchange.form.FormAnswerMsg"
);

record!(
    /// One filled-in form.
    FormMsg {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// The form's definition.
        form_id: Option<String> = "Option::is_none",
        /// This filled-in instance.
        form_instance_id: Option<String> = "Option::is_none",
        /// When it was first filed: the message's valid-from.
        first_filed_datetime: Option<DateTime<Utc>> = "Option::is_none",
        /// Hospital visit number.
        visit_number: Option<String> = "Option::is_none",
        /// The patient's MRN.
        mrn: Option<String> = "Option::is_none",
        /// The answers.
        form_answer_msgs: Vec<FormAnswerMsg> = "Vec::is_empty",
    }
);

record!(
    /// One answer on a form.
    FormAnswerMsg {
        /// Always `…form.FormAnswerMsg`.
        #[serde(rename = "@class")]
        class: FormAnswerTag,
        /// Id of the answer in its source.
        #[serde(deserialize_with = "crate::wire::string_or_number")]
        source_message_id: Option<String> = "Option::is_none",
        /// The question.
        question_id: Option<String> = "Option::is_none",
        /// Context.
        context: Option<String> = "Option::is_none",
        /// When it was filed.
        filed_datetime: Option<DateTime<Utc>> = "Option::is_none",
        /// Numeric answer.
        numeric_value: Iv<f64> = "Iv::is_unknown",
        /// Text answer.
        string_value: Iv<String> = "Iv::is_unknown",
        /// Instant answer.
        utc_datetime_value: Iv<DateTime<Utc>> = "Iv::is_unknown",
        /// Date answer.
        date_value: Iv<NaiveDate> = "Iv::is_unknown",
        /// Yes/no answer.
        boolean_value: Iv<bool> = "Iv::is_unknown",
    }
);

record!(
    /// A form's definition.
    FormMetadataMsg {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Name.
        form_name: Option<String> = "Option::is_none",
        /// Name shown to patients.
        form_patient_friendly_name: Option<String> = "Option::is_none",
        /// Valid from.
        valid_from: Option<DateTime<Utc>> = "Option::is_none",
    }
);

record!(
    /// A form question's definition.
    FormQuestionMetadataMsg {
        /// Id of the message in its source.
        source_message_id: Option<String> = "Option::is_none",
        /// Source system.
        source_system: Option<String> = "Option::is_none",
        /// Name.
        name: Option<String> = "Option::is_none",
        /// Abbreviated name.
        abbrev_name: Option<String> = "Option::is_none",
        /// Description.
        description: Option<String> = "Option::is_none",
        /// Valid from.
        valid_from: Option<DateTime<Utc>> = "Option::is_none",
    }
);
