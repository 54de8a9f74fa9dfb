//! MLLP v1 framing: `0x0B` payload `0x1C 0x0D`.
//!
//! The decoder tolerates what real senders do: frames split across reads, several frames in one
//! read, and bytes before a start block (discarded and counted). It never buffers more than the
//! configured maximum frame size: a longer frame is reported once as [`Inbound::Oversized`] and
//! its bytes are skipped until the next start block. A start block inside an unfinished frame
//! abandons that frame (counted as junk). An incomplete frame is not an error, just
//! `None` (wait for more bytes); the connection decides how long to wait.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// MLLP start block.
pub const START: u8 = 0x0B;
/// First byte of the MLLP end block.
pub const END: u8 = 0x1C;
/// Second byte of the MLLP end block.
pub const END2: u8 = 0x0D;

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A complete payload, exactly the bytes between the start block and the end block.
    Frame(Bytes),
    /// A frame longer than the maximum; its bytes were discarded.
    Oversized,
}

/// Decodes MLLP frames from, and encodes ACK payloads into, a byte stream.
#[derive(Debug)]
pub struct MllpCodec {
    max_frame: usize,
    /// Skipping an oversized frame until the next start block.
    skipping: bool,
    /// How far the current buffer has been searched for an end block (avoids rescanning).
    scanned: usize,
    /// Bytes discarded outside any frame since the codec was made.
    junk_bytes: u64,
}

impl MllpCodec {
    /// A codec refusing payloads longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> MllpCodec {
        MllpCodec {
            max_frame,
            skipping: false,
            scanned: 0,
            junk_bytes: 0,
        }
    }

    /// Bytes discarded before start blocks so far.
    pub fn junk_bytes(&self) -> u64 {
        self.junk_bytes
    }

    /// Drops everything before the next start block; returns whether one is at `buf[0]`.
    fn seek_start(&mut self, buf: &mut BytesMut) -> bool {
        match buf.iter().position(|&b| b == START) {
            Some(0) => true,
            Some(i) => {
                if !self.skipping {
                    self.junk_bytes += i as u64;
                }
                buf.advance(i);
                self.skipping = false;
                true
            }
            None => {
                if !self.skipping {
                    self.junk_bytes += buf.len() as u64;
                }
                buf.clear();
                false
            }
        }
    }
}

impl Decoder for MllpCodec {
    type Item = Inbound;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        loop {
            if self.scanned == 0 && !self.seek_start(buf) {
                return Ok(None);
            }
            // buf[0] is a start block; look for the end block after what was already scanned.
            let from = self.scanned.max(1);
            let found = buf[from..]
                .windows(2)
                .position(|w| w == [END, END2] || w[0] == START)
                .map(|i| from + i);
            if let Some(restart) = found.filter(|&i| buf[i] == START) {
                // A new start block before this frame ended: the sender abandoned the frame.
                self.junk_bytes += restart as u64;
                buf.advance(restart);
                self.scanned = 0;
                continue;
            }
            match found {
                Some(end) if end - 1 <= self.max_frame => {
                    self.scanned = 0;
                    let mut frame = buf.split_to(end + 2);
                    frame.advance(1);
                    frame.truncate(frame.len() - 2);
                    return Ok(Some(Inbound::Frame(frame.freeze())));
                }
                Some(end) => {
                    // Complete but too long: drop it whole and report it.
                    self.scanned = 0;
                    buf.advance(end + 2);
                    return Ok(Some(Inbound::Oversized));
                }
                None if buf.len() - 1 > self.max_frame + 1 => {
                    // Too long already: drop what we have and skip to the next start block.
                    self.scanned = 0;
                    self.skipping = true;
                    buf.advance(1);
                    if let Some(next) = buf.iter().position(|&b| b == START) {
                        buf.advance(next);
                        self.skipping = false;
                    } else {
                        buf.clear();
                    }
                    return Ok(Some(Inbound::Oversized));
                }
                None => {
                    // Keep one byte back: it may be the END of an END,END2 pair split across reads.
                    self.scanned = buf.len().saturating_sub(1).max(1);
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, std::io::Error> {
        match self.decode(buf)? {
            Some(item) => Ok(Some(item)),
            None => {
                // A partial frame at end of stream is abandoned: the sender got no ACK and resends.
                buf.clear();
                self.scanned = 0;
                Ok(None)
            }
        }
    }
}

impl Encoder<Bytes> for MllpCodec {
    type Error = std::io::Error;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        dst.reserve(payload.len() + 3);
        dst.put_u8(START);
        dst.extend_from_slice(&payload);
        dst.put_slice(&[END, END2]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut v = vec![START];
        v.extend_from_slice(payload);
        v.extend_from_slice(&[END, END2]);
        v
    }

    /// Feeds `input` in chunks of `chunk` bytes and collects everything decoded.
    fn decode_all(codec: &mut MllpCodec, input: &[u8], chunk: usize) -> Vec<Inbound> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                out.push(item);
            }
        }
        out
    }

    #[test]
    fn several_frames_in_one_read_and_junk_before_start() {
        let mut input = b"garbage".to_vec();
        input.extend(frame(b"MSH|1"));
        input.extend(b"\r\n");
        input.extend(frame(b"MSH|2\rPID|\x1c"));
        let mut codec = MllpCodec::new(1024);
        let out = decode_all(&mut codec, &input, input.len());
        assert_eq!(
            out,
            vec![
                Inbound::Frame(Bytes::from_static(b"MSH|1")),
                Inbound::Frame(Bytes::from_static(b"MSH|2\rPID|\x1c")),
            ]
        );
        assert_eq!(codec.junk_bytes(), 9);
    }

    #[test]
    fn oversized_frames_are_reported_and_the_stream_resynchronises() {
        let mut input = frame(&[b'x'; 100]);
        input.extend(frame(b"ok"));
        for chunk in [1, 7, 64, 1000] {
            let mut codec = MllpCodec::new(50);
            let out = decode_all(&mut codec, &input, chunk);
            assert_eq!(
                out,
                vec![
                    Inbound::Oversized,
                    Inbound::Frame(Bytes::from_static(b"ok"))
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_start_block_inside_a_frame_abandons_the_partial_frame() {
        let mut input = vec![START];
        input.extend(b"MSH|partial");
        input.extend(frame(b"MSH|whole"));
        let mut codec = MllpCodec::new(1024);
        let out = decode_all(&mut codec, &input, 4);
        assert_eq!(out, vec![Inbound::Frame(Bytes::from_static(b"MSH|whole"))]);
        assert_eq!(codec.junk_bytes(), 12);
    }

    #[test]
    fn a_frame_of_exactly_the_maximum_is_accepted() {
        let mut codec = MllpCodec::new(10);
        let out = decode_all(&mut codec, &frame(&[b'a'; 10]), 3);
        assert_eq!(out, vec![Inbound::Frame(Bytes::from(vec![b'a'; 10]))]);
    }

    #[test]
    fn encodes_a_frame() {
        let mut dst = BytesMut::new();
        MllpCodec::new(10)
            .encode(Bytes::from_static(b"MSA"), &mut dst)
            .unwrap();
        assert_eq!(&dst[..], &frame(b"MSA")[..]);
    }

    proptest! {
        #[test]
        fn any_split_yields_the_same_frames(
            payloads in proptest::collection::vec(
                proptest::collection::vec(any::<u8>().prop_filter("no framing bytes", |b| *b != START && *b != END), 0..200), 1..6),
            chunk in 1usize..64,
        ) {
            let input: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
            let mut codec = MllpCodec::new(1 << 20);
            let out = decode_all(&mut codec, &input, chunk);
            let expected: Vec<Inbound> = payloads.iter().map(|p| Inbound::Frame(Bytes::from(p.clone()))).collect();
            prop_assert_eq!(out, expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic_or_exceed_the_maximum(
            input in proptest::collection::vec(any::<u8>(), 0..2000), chunk in 1usize..300,
        ) {
            let mut codec = MllpCodec::new(100);
            for item in decode_all(&mut codec, &input, chunk) {
                if let Inbound::Frame(f) = item {
                    prop_assert!(f.len() <= 100);
                }
            }
        }
    }
}
