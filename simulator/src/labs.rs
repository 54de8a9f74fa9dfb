//! The synthetic hospital's laboratory: WinPath order life cycles for admitted patients.
//!
//! An admitted patient may have blood taken: Epic orders a full blood count, and perhaps urea
//! and electrolytes and a CRP (ORM^O01 NW); WinPath says when the sample reached the lab (SC)
//! and sends results (ORU^R01), sometimes preliminary first and final later. Some CRP orders are
//! cancelled (CA) and placed again under a new Epic order number. Values are drawn around their
//! reference ranges and flagged H or L outside them. Some patients have a blood culture, which
//! may grow an organism or two with their antibiotic sensitivities (microbiology as WinPath sends
//! it: isolate OBX segments and sensitivity orders). Every message carries the patient's PID and
//! visit, as real lab messages do, so the warehouse can infer their context.

use chrono::{Duration, NaiveDateTime};

use crate::rng::Rng;

/// What a lab episode needs to know of the admission it belongs to.
pub(crate) struct Admission<'a> {
    pub time: NaiveDateTime,
    pub person: usize,
    /// The patient's PID segment, as the ADT feed writes it.
    pub pid: &'a str,
    pub visit: &'a str,
    pub location: &'a str,
}

/// One clinical message (a lab order or result, a set of vital signs) before its control id is
/// known.
pub(crate) struct Clinical {
    pub time: NaiveDateTime,
    pub person: usize,
    pub trigger: &'static str,
    /// The message after its MSH segment.
    pub body: String,
    /// MSH-3, MSH-4 and MSH-9.
    pub sender: &'static str,
    pub facility: &'static str,
    pub message_type: &'static str,
    /// MSH-8: Epic writes `DISCHAUTO` there when discharge closed an order (Q2).
    pub security: &'static str,
}

/// A test of a battery: code, name, units, reference range, typical value and spread.
struct Test {
    code: &'static str,
    name: &'static str,
    units: &'static str,
    low: f64,
    high: f64,
    decimals: usize,
}

struct Battery {
    code: &'static str,
    name: &'static str,
    department: &'static str,
    tests: &'static [Test],
}

/// A full blood count: ten results, as the analyser reports them.
const FBC: Battery = Battery {
    code: "FBC",
    name: "FULL BLOOD COUNT",
    department: "HAEM",
    tests: &[
        Test {
            code: "HB",
            name: "Haemoglobin",
            units: "g/L",
            low: 115.0,
            high: 165.0,
            decimals: 0,
        },
        Test {
            code: "WCC",
            name: "White cell count",
            units: "x10\\S\\9/L",
            low: 4.0,
            high: 11.0,
            decimals: 2,
        },
        Test {
            code: "PLT",
            name: "Platelets",
            units: "x10\\S\\9/L",
            low: 150.0,
            high: 400.0,
            decimals: 0,
        },
        Test {
            code: "RBC",
            name: "Red cell count",
            units: "x10\\S\\12/L",
            low: 3.8,
            high: 5.8,
            decimals: 2,
        },
        Test {
            code: "HCT",
            name: "Haematocrit",
            units: "L/L",
            low: 0.37,
            high: 0.47,
            decimals: 3,
        },
        Test {
            code: "MCV",
            name: "Mean cell volume",
            units: "fL",
            low: 80.0,
            high: 100.0,
            decimals: 1,
        },
        Test {
            code: "MCH",
            name: "Mean cell haemoglobin",
            units: "pg",
            low: 27.0,
            high: 32.0,
            decimals: 1,
        },
        Test {
            code: "MCHC",
            name: "Mean cell Hb concentration",
            units: "g/L",
            low: 320.0,
            high: 360.0,
            decimals: 0,
        },
        Test {
            code: "NEUT",
            name: "Neutrophils",
            units: "x10\\S\\9/L",
            low: 2.0,
            high: 7.5,
            decimals: 2,
        },
        Test {
            code: "LYMPH",
            name: "Lymphocytes",
            units: "x10\\S\\9/L",
            low: 1.0,
            high: 4.0,
            decimals: 2,
        },
    ],
};

const UE: Battery = Battery {
    code: "UE",
    name: "UREA AND ELECTROLYTES",
    department: "CC",
    tests: &[
        Test {
            code: "NA",
            name: "Sodium",
            units: "mmol/L",
            low: 135.0,
            high: 145.0,
            decimals: 0,
        },
        Test {
            code: "K",
            name: "Potassium",
            units: "mmol/L",
            low: 3.5,
            high: 5.3,
            decimals: 1,
        },
        Test {
            code: "UREA",
            name: "Urea",
            units: "mmol/L",
            low: 2.5,
            high: 7.8,
            decimals: 1,
        },
        Test {
            code: "CREA",
            name: "Creatinine",
            units: "umol/L",
            low: 60.0,
            high: 120.0,
            decimals: 0,
        },
        Test {
            code: "EGFR",
            name: "eGFR",
            units: "mL/min/1.73m2",
            low: 60.0,
            high: 120.0,
            decimals: 0,
        },
    ],
};

const CRP: Battery = Battery {
    code: "CRP",
    name: "C-REACTIVE PROTEIN",
    department: "CC",
    tests: &[Test {
        code: "CRP",
        name: "C-reactive protein",
        units: "mg/L",
        low: 0.0,
        high: 5.0,
        decimals: 1,
    }],
};

const BLOOD_CULTURE: Battery = Battery {
    code: "BC",
    name: "BLOOD CULTURE",
    department: "MC",
    tests: &[],
};

/// Organisms a blood culture grows: code and name.
const ORGANISMS: [(&str, &str); 4] = [
    ("STAAUR", "Staphylococcus aureus"),
    ("ESCCOL", "Escherichia coli"),
    ("KLEPNE", "Klebsiella pneumoniae"),
    ("STAEPI", "Staphylococcus epidermidis"),
];

/// Antibiotics an isolate is tested against.
const AGENTS: [&str; 6] = ["VM", "VF", "VCN", "VCI", "VAK", "VMEM"];

/// How much of an organism grew.
const QUANTITIES: [&str; 3] = ["Light growth of", "Moderate growth of", "Heavy growth of"];

/// One organism a culture grew, with its sensitivities (agent, S/R/I).
struct Isolate {
    code: &'static str,
    name: &'static str,
    quantity: &'static str,
    sensitivities: Vec<(&'static str, &'static str)>,
}

fn hl7_time(time: NaiveDateTime) -> String {
    time.format("%Y%m%d%H%M%S").to_string()
}

/// The lab messages of one admission's episode; `cancels` is the chance a CRP order is
/// cancelled and placed again.
pub(crate) fn episode(rng: &mut Rng, admission: &Admission<'_>, cancels: f64) -> Vec<Clinical> {
    let ordered = admission.time + Duration::minutes(20 + rng.minutes(90.0));
    let specimen = format!("26U{:06}", admission.person % 1_000_000);
    let mut batteries = vec![&FBC];
    if rng.chance(0.7) {
        batteries.push(&UE);
    }
    if rng.chance(0.4) {
        batteries.push(&CRP);
    }
    let mut out = Vec::new();
    for (n, battery) in batteries.into_iter().enumerate() {
        let epic = format!("9{:07}{n}", admission.person);
        let mut order = Order {
            admission,
            battery,
            epic,
            specimen: &specimen,
            ordered,
        };
        if battery.code == "CRP" && rng.chance(cancels) {
            out.push(order.orm("NW", order.ordered));
            out.push(order.orm("CA", order.ordered + Duration::minutes(10)));
            order.epic = format!("8{:07}{n}", admission.person);
            order.ordered += Duration::minutes(20);
        }
        out.extend(order.life_cycle(rng));
    }
    if rng.chance(0.25) {
        out.extend(culture(rng, admission, ordered));
    }
    out
}

/// A blood culture: ordered, received, a preliminary report some hours later, the final one
/// some hours after that naming what grew (in most of them) with its sensitivities.
fn culture(rng: &mut Rng, admission: &Admission<'_>, ordered: NaiveDateTime) -> Vec<Clinical> {
    let specimen = format!("26M{:06}", admission.person % 1_000_000);
    let order = Order {
        admission,
        battery: &BLOOD_CULTURE,
        epic: format!("7{:07}0", admission.person),
        specimen: &specimen,
        ordered,
    };
    let received = order.collected() + Duration::minutes(30 + rng.minutes(60.0));
    let preliminary = received + Duration::hours(6) + Duration::minutes(rng.minutes(120.0));
    let last = preliminary + Duration::hours(4) + Duration::minutes(rng.minutes(480.0));
    let isolates: Vec<Isolate> = match rng.chance(0.6) {
        false => Vec::new(),
        true => (0..1 + usize::from(rng.chance(0.25)))
            .map(|_| {
                let (code, name) = *rng.pick(&ORGANISMS);
                Isolate {
                    code,
                    name,
                    quantity: rng.pick::<&str>(&QUANTITIES),
                    sensitivities: AGENTS
                        .iter()
                        .filter_map(|agent| {
                            let tested = rng.chance(0.7);
                            let flag = *rng.pick(&["S", "S", "S", "R", "I"]);
                            tested.then_some((*agent, flag))
                        })
                        .collect(),
                }
            })
            .collect(),
    };
    vec![
        order.orm("NW", ordered),
        order.orm("SC", received),
        order.culture(preliminary, &[], "INCOMPLETE - NO GROWTH TO DATE", "P"),
        order.culture(last, &isolates, "COMPLETE", "F"),
    ]
}

/// One battery ordered on the episode's sample.
struct Order<'a> {
    admission: &'a Admission<'a>,
    battery: &'a Battery,
    epic: String,
    specimen: &'a str,
    ordered: NaiveDateTime,
}

impl Order<'_> {
    fn collected(&self) -> NaiveDateTime {
        self.ordered + Duration::minutes(15)
    }

    /// Placed, received by the lab, resulted (preliminary first, sometimes).
    fn life_cycle(&self, rng: &mut Rng) -> Vec<Clinical> {
        let received = self.collected() + Duration::minutes(20 + rng.minutes(30.0));
        let resulted = received + Duration::minutes(20 + rng.minutes(60.0));
        let mut out = vec![self.orm("NW", self.ordered), self.orm("SC", received)];
        let values: Vec<f64> = self
            .battery
            .tests
            .iter()
            .map(|t| {
                let spread = (t.high - t.low).max(1.0);
                (t.low - spread * 0.3 + rng.unit() * spread * 1.6).max(0.0)
            })
            .collect();
        if rng.chance(0.2) {
            out.push(self.oru(resulted, &values, "P"));
            out.push(self.oru(resulted + Duration::minutes(45), &values, "F"));
        } else {
            out.push(self.oru(resulted, &values, "F"));
        }
        out
    }

    /// An order message: Epic places it (NW), WinPath receives the sample (SC) or cancels (CA).
    fn orm(&self, control: &'static str, at: NaiveDateTime) -> Clinical {
        let (b, a) = (self.battery, self.admission);
        let (time, collected) = (hl7_time(at), hl7_time(self.collected()));
        let (orc, obr) = match control {
            "NW" => (
                format!("ORC|NW|{}^EPC||{}1|||||{time}", self.epic, self.specimen),
                format!(
                    "OBR|1|{}^EPC||{}^{}^WinPath||{time}|{collected}||||Lab Collect||||BLD&Blood|||||{}||||Lab",
                    self.epic, b.code, b.name, self.specimen
                ),
            ),
            _ => (
                format!(
                    "ORC|{control}|{}|{}|{}5|NW||||{time}",
                    self.epic, self.specimen, self.specimen
                ),
                format!(
                    "OBR|1|{}|{}|{}^{}^WinPath|||{collected}|||||||||||||||{time}||{}|{}",
                    self.epic,
                    self.specimen,
                    b.code,
                    b.name,
                    b.department,
                    if control == "CA" { "X" } else { "I" }
                ),
            ),
        };
        Clinical {
            time: at,
            person: a.person,
            trigger: "O01",
            body: format!("{}\r{}\r{orc}\r{obr}\r", a.pid, self.pv1()),
            sender: if control == "NW" { "EPIC" } else { "WinPath" },
            facility: "SIMHOSP",
            message_type: "ORM^O01",
            security: "",
        }
    }

    /// Results, each flagged H or L outside its range; `status` P or F.
    fn oru(&self, at: NaiveDateTime, values: &[f64], status: &str) -> Clinical {
        let (b, a) = (self.battery, self.admission);
        let time = hl7_time(at);
        let mut body = format!(
            "{}\r{}\rORC|RE|{}|{}|{}5|CM\rOBR|1|{}|{}|{}^{}^WinPath||{}|{}||||||unwell||BLD^Blood|||||||{time}||{}|{status}\r",
            a.pid,
            self.pv1(),
            self.epic,
            self.specimen,
            self.specimen,
            self.epic,
            self.specimen,
            b.code,
            b.name,
            hl7_time(self.ordered),
            hl7_time(self.collected()),
            b.department,
        );
        for (n, (test, value)) in b.tests.iter().zip(values).enumerate() {
            let flag = if *value > test.high {
                "H"
            } else if *value < test.low {
                "L"
            } else {
                ""
            };
            body.push_str(&format!(
                "OBX|{}|NM|{}^{}^Winpath||{value:.prec$}|{}|{}-{}|{flag}|||{status}\r",
                n + 1,
                test.code,
                test.name,
                test.units,
                test.low,
                test.high,
                prec = test.decimals,
            ));
        }
        Clinical {
            time: at,
            person: a.person,
            trigger: "R01",
            body,
            sender: "WinPath",
            facility: "SIMHOSP",
            message_type: "ORU^R01",
            security: "",
        }
    }

    /// A culture report: its status line and, per isolate, the organism and a sensitivity order
    /// naming it (OBR-26), as WinPath sends microbiology.
    fn culture(
        &self,
        at: NaiveDateTime,
        isolates: &[Isolate],
        state: &str,
        status: &str,
    ) -> Clinical {
        let (b, a) = (self.battery, self.admission);
        let (time, collected) = (hl7_time(at), hl7_time(self.collected()));
        let (epic, specimen) = (&self.epic, self.specimen);
        let mut body = format!(
            "{}\r{}\rORC|RE|{epic}|{specimen}|{specimen}5|CM\r\
             OBR|1|{epic}|{specimen}|{}^{}^WinPath||{}|{collected}||||||||BLD^Blood|||||||{time}||{}|{status}\r\
             OBX|1|FT|BC^BLOOD CULTURE^Winpath||BLOOD CULTURE REPORT||||||{status}\r",
            a.pid,
            self.pv1(),
            b.code,
            b.name,
            hl7_time(self.ordered),
            b.department,
        );
        let mut n = 1;
        for (k, isolate) in isolates.iter().enumerate() {
            let id = k + 1;
            body.push_str(&format!(
                "OBX|{}|ST|ISOLATE^ISOLATE^Winpath|{id}|{}|||A|||{status}\r\
                 OBX|{}|CE|ISOLATE^ISOLATE^Winpath|{id}|{}^{}|||A|||{status}\r",
                n + 1,
                isolate.quantity,
                n + 2,
                isolate.code,
                isolate.name
            ));
            n += 2;
        }
        body.push_str(&format!(
            "OBX|{}|FT|FSTA^STATUS^Winpath||{state}||||||{status}\r",
            n + 1
        ));
        for (k, isolate) in isolates.iter().enumerate() {
            let id = k + 1;
            body.push_str(&format!(
                "ORC|RE|{epic}|{specimen}|{specimen}5\r\
                 OBR|{}|{epic}|{specimen}|Micro^Sensitivities^WinPath|||{collected}||||||||BLD^Blood|||||||||MC|{status}|ISOLATE&&Winpath^{id}|||{epic}&&BC^{specimen}&&BC\r",
                id + 1
            ));
            for (m, (agent, flag)) in isolate.sensitivities.iter().enumerate() {
                body.push_str(&format!(
                    "OBX|{}|ST|{agent}^{agent}^Winpath||{agent}|||{flag}|||{status}\r",
                    m + 1
                ));
            }
        }
        Clinical {
            time: at,
            person: a.person,
            trigger: "R01",
            body,
            sender: "WinPath",
            facility: "SIMHOSP",
            message_type: "ORU^R01",
            security: "",
        }
    }

    fn pv1(&self) -> String {
        let a = self.admission;
        format!("PV1|1|I|{}||||||||||||||||{}", a.location, a.visit)
    }
}
