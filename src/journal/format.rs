//! The journal file, format 1: a 32-byte header, then records, each framed and checksummed.
//!
//! ```text
//! header  magic "AITRAPPJ" | format u16 | reserved u16 | trading day u32 (YYYYMMDD)
//!         | created unix s u64 | reserved u32 | CRC-32 of the 28 bytes before it u32
//! record  CRC-32 u32 | payload length u32 | kind u8 | reserved [u8; 3] | seq u64 | payload
//! ```
//!
//! Integers are little-endian; the CRC is CRC-32 (IEEE 802.3, as zlib) over everything in the
//! record after the CRC itself. `seq` counts from 1 and has no gaps. Payloads are the
//! producing stage's own encoding of its kind (see `crate::telemetry::journal`).
//!
//! A crash can leave the last record half written: a record that runs past the end of the
//! file, fails its CRC as the very last record, or is followed by nothing but zeros (a file
//! system may extend a file before its data lands) is a torn tail, cut off with a warning.
//! A bad record with good records after it is damage, and stops the start with the offset.

use std::fmt;

pub const MAGIC: &[u8; 8] = b"AITRAPPJ";
pub const FORMAT: u16 = 1;
pub const HEADER_LEN: usize = 32;
pub const RECORD_HEAD: usize = 20;
/// No record is larger (the queue's slots are smaller still).
pub const MAX_PAYLOAD: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub format: u16,
    pub day: u32,
    pub created_s: u64,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&self.format.to_le_bytes());
        b[12..16].copy_from_slice(&self.day.to_le_bytes());
        b[16..24].copy_from_slice(&self.created_s.to_le_bytes());
        let crc = crc32fast::hash(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Result<Header, String> {
        if b.len() < HEADER_LEN {
            return Err(format!(
                "{} bytes, shorter than the {HEADER_LEN}-byte header",
                b.len()
            ));
        }
        if &b[..8] != MAGIC {
            return Err("not an aitrapp journal (bad magic)".into());
        }
        let crc = u32::from_le_bytes(b[28..32].try_into().unwrap_or_default());
        if crc != crc32fast::hash(&b[..28]) {
            return Err("header checksum mismatch".into());
        }
        Ok(Header {
            format: u16::from_le_bytes([b[8], b[9]]),
            day: u32::from_le_bytes(b[12..16].try_into().unwrap_or_default()),
            created_s: u64::from_le_bytes(b[16..24].try_into().unwrap_or_default()),
        })
    }
}

/// Appends one framed record to `out`.
pub fn encode_record(out: &mut Vec<u8>, seq: u64, kind: u8, payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out[start + 4..]);
    out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// One record as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub seq: u64,
    pub kind: u8,
    pub payload: &'a [u8],
    /// Where the record starts in the file.
    pub offset: u64,
}

/// How the records ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    Clean,
    /// A half-written last record: the file is good up to `good_len`, and `torn` bytes
    /// after it are to be cut off.
    Torn {
        good_len: u64,
        torn: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub offset: u64,
    pub why: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "damaged at byte offset {}: {}", self.offset, self.why)
    }
}

/// Reads every record of a journal image (header included); a torn tail is reported, not
/// an error; damage anywhere before it is.
pub fn read_records(b: &[u8]) -> Result<(Header, Vec<RecordRef<'_>>, Tail), Damage> {
    let header = Header::decode(b).map_err(|why| Damage { offset: 0, why })?;
    if header.format != FORMAT {
        return Err(Damage {
            offset: 8,
            why: format!(
                "journal format {} (this build reads format {FORMAT})",
                header.format
            ),
        });
    }
    let mut out = Vec::new();
    let mut o = HEADER_LEN;
    let mut expect = 1u64;
    let torn = |o: usize| Tail::Torn {
        good_len: o as u64,
        torn: (b.len() - o) as u64,
    };
    while o < b.len() {
        let rest = &b[o..];
        if rest.iter().all(|&x| x == 0) {
            return Ok((header, out, torn(o)));
        }
        if rest.len() < RECORD_HEAD {
            return Ok((header, out, torn(o)));
        }
        let len = u32::from_le_bytes(rest[4..8].try_into().unwrap_or_default()) as usize;
        let damage = |why: String| Damage {
            offset: o as u64,
            why,
        };
        if len > MAX_PAYLOAD {
            // A length no writer produces: a torn tail only if nothing good can follow.
            return Err(damage(format!("record length {len} exceeds {MAX_PAYLOAD}")));
        }
        let end = RECORD_HEAD + len;
        if rest.len() < end {
            return Ok((header, out, torn(o)));
        }
        let crc = u32::from_le_bytes(rest[..4].try_into().unwrap_or_default());
        if crc != crc32fast::hash(&rest[4..end]) {
            if rest.len() == end || rest[end..].iter().all(|&x| x == 0) {
                return Ok((header, out, torn(o)));
            }
            return Err(damage("record checksum mismatch".into()));
        }
        let seq = u64::from_le_bytes(rest[12..20].try_into().unwrap_or_default());
        if seq != expect {
            return Err(damage(format!("record {seq} where {expect} was due")));
        }
        out.push(RecordRef {
            seq,
            kind: rest[8],
            payload: &rest[RECORD_HEAD..end],
            offset: o as u64,
        });
        expect += 1;
        o += end;
    }
    Ok((header, out, Tail::Clean))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: u64) -> Vec<u8> {
        let mut b = Header {
            format: FORMAT,
            day: 20261202,
            created_s: 1,
        }
        .encode()
        .to_vec();
        for seq in 1..=n {
            encode_record(
                &mut b,
                seq,
                (seq % 7) as u8,
                &vec![seq as u8; seq as usize * 3],
            );
        }
        b
    }

    #[test]
    fn records_read_back_in_order() {
        let b = image(5);
        let (h, recs, tail) = read_records(&b).unwrap();
        assert_eq!(h.day, 20261202);
        assert_eq!(tail, Tail::Clean);
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[2].payload, &[3u8; 9][..]);
        assert_eq!(recs[4].kind, 5);
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_torn_tail() {
        let whole = image(4);
        let good = read_records(&whole).unwrap().1[3].offset as usize;
        for cut in good + 1..whole.len() {
            let (_, recs, tail) = read_records(&whole[..cut]).unwrap();
            assert_eq!(recs.len(), 3, "cut at {cut}");
            assert_eq!(
                tail,
                Tail::Torn {
                    good_len: good as u64,
                    torn: (cut - good) as u64
                }
            );
        }
        // Zeros where the last record's data never landed.
        let mut zeroed = whole.clone();
        zeroed[good + 2..].iter_mut().for_each(|x| *x = 0);
        assert!(matches!(
            read_records(&zeroed).unwrap().2,
            Tail::Torn { .. }
        ));
        // A flipped bit in the last record alone.
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            read_records(&flipped).unwrap().2,
            Tail::Torn { .. }
        ));
    }

    #[test]
    fn damage_before_the_tail_names_its_offset() {
        let mut b = image(6);
        let at = read_records(&b).unwrap().1[2].offset as usize;
        b[at + RECORD_HEAD] ^= 0x40;
        let e = read_records(&b).unwrap_err();
        assert_eq!(e.offset, at as u64);
        assert!(e.to_string().contains("checksum"), "{e}");
        // A header that is not ours.
        let mut h = image(1);
        h[0] = b'X';
        assert_eq!(read_records(&h).unwrap_err().offset, 0);
    }
}
