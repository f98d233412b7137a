// SPDX-License-Identifier: GPL-2.0
//! Test payload carried by `netmemctl send` and checked by `netmemctl recv
//! --verify`, and location of that payload in a received Ethernet frame.
//!
//! Payload (all of the UDP payload):
//!
//! ```text
//!  0..4   b"NMX1"
//!  4..8   sequence number, u32 big-endian
//!  8..12  payload length in bytes including these 12, u32 big-endian
//! 12..    pattern: byte k (k from the payload start) is
//!         (seq as u8).wrapping_mul(31).wrapping_add(k as u8)
//! ```

use std::fmt;

pub const MAGIC: &[u8; 4] = b"NMX1";
/// Bytes before the pattern.
pub const HEADER_LEN: usize = 12;
/// Largest UDP payload over IPv4.
pub const MAX_LEN: usize = 65507;

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const IPPROTO_UDP: u8 = 17;
const UDP_HLEN: usize = 8;

/// Pattern byte at offset `k` of the payload of `seq`.
#[inline]
pub fn pattern_byte(seq: u32, k: usize) -> u8 {
    (seq as u8).wrapping_mul(31).wrapping_add(k as u8)
}

/// Fill `buf` (its whole length is the payload length) with payload `seq`.
pub fn fill(buf: &mut [u8], seq: u32) {
    assert!(buf.len() >= HEADER_LEN && buf.len() <= u32::MAX as usize);
    buf[0..4].copy_from_slice(MAGIC);
    buf[4..8].copy_from_slice(&seq.to_be_bytes());
    let len = buf.len() as u32;
    buf[8..12].copy_from_slice(&len.to_be_bytes());
    for (k, b) in buf.iter_mut().enumerate().skip(HEADER_LEN) {
        *b = pattern_byte(seq, k);
    }
}

/// Payload `seq` of `len` bytes (`len` >= HEADER_LEN).
pub fn build(seq: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill(&mut v, seq);
    v
}

/// Why a payload failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// Fewer bytes than the header, or than the declared length.
    Truncated {
        have: usize,
        need: usize,
    },
    BadMagic,
    /// Declared length shorter than the header, or different from what the
    /// UDP header says.
    BadLength {
        declared: u32,
        expected: Option<usize>,
    },
    Mismatch {
        seq: u32,
        offset: usize,
        expected: u8,
        got: u8,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Truncated { have, need } => {
                write!(f, "truncated payload: {have} bytes, need {need}")
            }
            VerifyError::BadMagic => write!(f, "bad magic"),
            VerifyError::BadLength { declared, expected } => match expected {
                Some(e) => write!(f, "declared length {declared}, UDP carries {e}"),
                None => write!(f, "bad declared length {declared}"),
            },
            VerifyError::Mismatch {
                seq,
                offset,
                expected,
                got,
            } => write!(
                f,
                "seq {seq}: byte {offset} is {got:#04x}, expected {expected:#04x}"
            ),
        }
    }
}

/// A payload that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub seq: u32,
    pub len: usize,
}

/// Verify a payload starting at `p[0]`. Bytes after the declared length
/// (Ethernet padding) are ignored.
pub fn verify(p: &[u8]) -> Result<Verified, VerifyError> {
    if p.len() < HEADER_LEN {
        if p.len() >= 4 && &p[0..4] != MAGIC {
            return Err(VerifyError::BadMagic);
        }
        return Err(VerifyError::Truncated {
            have: p.len(),
            need: HEADER_LEN,
        });
    }
    if &p[0..4] != MAGIC {
        return Err(VerifyError::BadMagic);
    }
    let seq = u32::from_be_bytes(p[4..8].try_into().unwrap());
    let declared = u32::from_be_bytes(p[8..12].try_into().unwrap());
    let len = declared as usize;
    if len < HEADER_LEN {
        return Err(VerifyError::BadLength {
            declared,
            expected: None,
        });
    }
    if p.len() < len {
        return Err(VerifyError::Truncated {
            have: p.len(),
            need: len,
        });
    }
    for (k, &got) in p[..len].iter().enumerate().skip(HEADER_LEN) {
        let expected = pattern_byte(seq, k);
        if got != expected {
            return Err(VerifyError::Mismatch {
                seq,
                offset: k,
                expected,
                got,
            });
        }
    }
    Ok(Verified { seq, len })
}

/// Where the payload is in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    /// IPv4/UDP frame: payload offset, UDP payload length (clamped to the
    /// frame), destination port.
    Udp {
        offset: usize,
        len: usize,
        dst_port: u16,
    },
    /// Not parsable as IPv4/UDP, but the magic is at `offset`.
    Magic { offset: usize },
    /// Neither.
    Nothing,
}

fn find_magic(frame: &[u8]) -> Located {
    match frame.windows(MAGIC.len()).position(|w| w == MAGIC) {
        Some(offset) => Located::Magic { offset },
        None => Located::Nothing,
    }
}

/// Locate the UDP payload in an Ethernet frame (optionally VLAN tagged) by
/// parsing the IPv4 header (IHL) and the UDP header; for other frames, fall
/// back to searching for the magic.
pub fn locate(frame: &[u8]) -> Located {
    if frame.len() < ETH_HLEN {
        return find_magic(frame);
    }
    let mut l3 = ETH_HLEN;
    let mut proto = u16::from_be_bytes([frame[12], frame[13]]);
    for _ in 0..2 {
        if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) && frame.len() >= l3 + 4 {
            proto = u16::from_be_bytes([frame[l3 + 2], frame[l3 + 3]]);
            l3 += 4;
        }
    }
    if proto != ETH_P_IP || frame.len() < l3 + 20 {
        return find_magic(frame);
    }
    let ip = &frame[l3..];
    let version = ip[0] >> 4;
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
    if version != 4 || ihl < 20 || ip[9] != IPPROTO_UDP || frag != 0 {
        return find_magic(frame);
    }
    let l4 = l3 + ihl;
    if frame.len() < l4 + UDP_HLEN {
        return find_magic(frame);
    }
    let udp = &frame[l4..];
    let dst_port = u16::from_be_bytes([udp[2], udp[3]]);
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let offset = l4 + UDP_HLEN;
    let len = udp_len.saturating_sub(UDP_HLEN).min(frame.len() - offset);
    Located::Udp {
        offset,
        len,
        dst_port,
    }
}

/// Result of checking one received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameCheck {
    Ok(Verified),
    Bad(VerifyError),
    /// Not a test frame (other traffic on the queue); with `port` set, any
    /// IPv4/UDP frame to another port.
    Foreign,
}

/// Check a received frame. With `port`, every IPv4/UDP frame to that port
/// must carry a good payload; without it, a UDP frame whose payload does not
/// start with the magic is foreign traffic.
pub fn check_frame(frame: &[u8], port: Option<u16>) -> FrameCheck {
    match locate(frame) {
        Located::Udp {
            offset,
            len,
            dst_port,
        } => {
            if port.is_some_and(|p| p != dst_port) {
                return FrameCheck::Foreign;
            }
            let p = &frame[offset..];
            if port.is_none() && !p.starts_with(MAGIC) {
                return FrameCheck::Foreign;
            }
            // The UDP length bounds the payload (the rest is padding).
            match verify(&p[..len.min(p.len())]) {
                Ok(v) if v.len != len => FrameCheck::Bad(VerifyError::BadLength {
                    declared: v.len as u32,
                    expected: Some(len),
                }),
                Ok(v) => FrameCheck::Ok(v),
                Err(e) => FrameCheck::Bad(e),
            }
        }
        Located::Magic { offset } => match verify(&frame[offset..]) {
            Ok(v) => FrameCheck::Ok(v),
            Err(e) => FrameCheck::Bad(e),
        },
        Located::Nothing => FrameCheck::Foreign,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Ethernet + IPv4 (with `ip_opts` bytes of options) + UDP frame carrying
    /// payload `seq` of `len` bytes, padded to the 60-byte minimum.
    pub fn udp_frame(seq: u32, len: usize, port: u16, ip_opts: usize) -> Vec<u8> {
        assert_eq!(ip_opts % 4, 0);
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
        let ihl = 20 + ip_opts;
        let total = ihl + 8 + len;
        f.push(0x40 | (ihl / 4) as u8);
        f.push(0);
        f.extend_from_slice(&(total as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, IPPROTO_UDP, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend(std::iter::repeat_n(1u8, ip_opts)); // NOP options
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&port.to_be_bytes());
        f.extend_from_slice(&((8 + len) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend(build(seq, len));
        while f.len() < 60 {
            f.push(0);
        }
        f
    }

    #[test]
    fn pattern_definition() {
        assert_eq!(pattern_byte(0, 12), 12);
        assert_eq!(pattern_byte(1, 12), 43);
        assert_eq!(
            pattern_byte(9, 300),
            (9u8.wrapping_mul(31)).wrapping_add(44)
        );
        assert_eq!(pattern_byte(0x101, 0), 31);
    }

    #[test]
    fn build_verify_roundtrip() {
        for (seq, len) in [
            (0u32, 12usize),
            (1, 13),
            (255, 100),
            (0xdead_beef, 1472),
            (7, 9000),
        ] {
            let p = build(seq, len);
            assert_eq!(&p[0..4], MAGIC);
            assert_eq!(u32::from_be_bytes(p[4..8].try_into().unwrap()), seq);
            assert_eq!(
                u32::from_be_bytes(p[8..12].try_into().unwrap()) as usize,
                len
            );
            assert_eq!(verify(&p), Ok(Verified { seq, len }));
            // Trailing padding is ignored.
            let mut padded = p.clone();
            padded.extend_from_slice(&[0; 7]);
            assert_eq!(verify(&padded), Ok(Verified { seq, len }));
        }
    }

    #[test]
    fn corruption_is_detected() {
        let good = build(42, 200);
        // Every single-byte flip is caught, except in the three high bytes
        // of the sequence number: the pattern depends on its low byte only,
        // so such a payload is a valid one of another sequence number.
        for i in (0..good.len()).filter(|i| !(4..7).contains(i)) {
            let mut p = good.clone();
            p[i] ^= 0x01;
            assert!(verify(&p).is_err(), "flip at {i} not detected");
        }
        let mut p = good.clone();
        p[150] = 0;
        assert_eq!(
            verify(&p),
            Err(VerifyError::Mismatch {
                seq: 42,
                offset: 150,
                expected: pattern_byte(42, 150),
                got: 0
            })
        );
        let mut p = good.clone();
        p[0] = b'X';
        assert_eq!(verify(&p), Err(VerifyError::BadMagic));
        assert_eq!(
            verify(&good[..199]),
            Err(VerifyError::Truncated {
                have: 199,
                need: 200
            })
        );
        assert!(matches!(
            verify(&good[..8]),
            Err(VerifyError::Truncated { .. })
        ));
        let mut p = good.clone();
        p[8..12].copy_from_slice(&5u32.to_be_bytes());
        assert!(matches!(verify(&p), Err(VerifyError::BadLength { .. })));
        // A payload of another sequence number is self-consistent...
        let other = build(43, 200);
        assert!(verify(&other).is_ok());
        // ...but not with the sequence number swapped.
        let mut p = other.clone();
        p[4..8].copy_from_slice(&42u32.to_be_bytes());
        assert!(matches!(verify(&p), Err(VerifyError::Mismatch { .. })));
    }

    #[test]
    fn locate_in_frames() {
        let f = udp_frame(5, 100, 9000, 0);
        assert_eq!(
            locate(&f),
            Located::Udp {
                offset: 42,
                len: 100,
                dst_port: 9000
            }
        );
        let f = udp_frame(5, 100, 9000, 8);
        assert_eq!(
            locate(&f),
            Located::Udp {
                offset: 50,
                len: 100,
                dst_port: 9000
            }
        );
        // Tiny payload: Ethernet padding after it.
        let f = udp_frame(5, 12, 9000, 0);
        assert_eq!(f.len(), 60);
        assert_eq!(
            check_frame(&f, Some(9000)),
            FrameCheck::Ok(Verified { seq: 5, len: 12 })
        );
        // VLAN tag.
        let mut f = udp_frame(6, 64, 9000, 0);
        f.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
        assert_eq!(
            check_frame(&f, None),
            FrameCheck::Ok(Verified { seq: 6, len: 64 })
        );
        // IPv6 or anything else: magic search.
        let mut f = udp_frame(7, 64, 9000, 0);
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(locate(&f), Located::Magic { offset: 42 });
        assert_eq!(
            check_frame(&f, None),
            FrameCheck::Ok(Verified { seq: 7, len: 64 })
        );
        // ARP-like frame without magic: foreign.
        let mut arp = vec![0xffu8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 46]);
        assert_eq!(check_frame(&arp, None), FrameCheck::Foreign);
        assert_eq!(check_frame(&arp[..5], Some(1)), FrameCheck::Foreign);
    }

    #[test]
    fn check_frames() {
        let f = udp_frame(1000, 1472, 9000, 0);
        assert_eq!(f.len(), 1514);
        assert_eq!(
            check_frame(&f, Some(9000)),
            FrameCheck::Ok(Verified {
                seq: 1000,
                len: 1472
            })
        );
        assert_eq!(check_frame(&f, Some(9001)), FrameCheck::Foreign);
        // Corrupt payload byte.
        let mut bad = f.clone();
        bad[42 + 700] ^= 0xff;
        assert!(matches!(
            check_frame(&bad, None),
            FrameCheck::Bad(VerifyError::Mismatch { offset: 700, .. })
        ));
        // Corrupt magic: bad with a port filter, foreign without.
        let mut bad = f.clone();
        bad[42] = 0;
        assert_eq!(
            check_frame(&bad, Some(9000)),
            FrameCheck::Bad(VerifyError::BadMagic)
        );
        assert_eq!(check_frame(&bad, None), FrameCheck::Foreign);
        // Record shorter than the frame.
        assert!(matches!(
            check_frame(&f[..1000], Some(9000)),
            FrameCheck::Bad(VerifyError::Truncated { .. })
        ));
        // UDP length disagreeing with the declared payload length.
        let mut bad = f.clone();
        bad[42 + 8..42 + 12].copy_from_slice(&1400u32.to_be_bytes());
        assert!(matches!(
            check_frame(&bad, Some(9000)),
            FrameCheck::Bad(VerifyError::BadLength { .. })
        ));
    }
}
