//! QUIC-style variable-length integers: the top two bits of the first byte give the length
//! (1, 2, 4 or 8 bytes), the rest is the value, big-endian. Values up to 2^62 - 1.

/// The largest value a varint holds.
pub const MAX: u64 = (1 << 62) - 1;

/// Bytes `value` takes on the wire.
#[inline]
pub fn len(value: u64) -> usize {
    match value {
        0..=63 => 1,
        64..=16383 => 2,
        16384..=1_073_741_823 => 4,
        _ => 8,
    }
}

/// Append `value` (must be <= [`MAX`]; larger values are a caller bug and saturate).
#[inline]
pub fn write(out: &mut Vec<u8>, value: u64) {
    let value = value.min(MAX);
    match len(value) {
        1 => out.push(value as u8),
        2 => out.extend_from_slice(&((value as u16) | 0x4000).to_be_bytes()),
        4 => out.extend_from_slice(&((value as u32) | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(value | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// Read one varint from the front of `input`, advancing it. `None` if `input` is too short.
#[inline]
pub fn read(input: &mut &[u8]) -> Option<u64> {
    let first = *input.first()?;
    if first < 0x40 {
        // The common case (values below 64: frame types, lanes, small lengths) in one byte.
        *input = &input[1..];
        return Some(first as u64);
    }
    let size = 1usize << (first >> 6);
    if input.len() < size {
        return None;
    }
    let mut value = (first & 0x3f) as u64;
    for &b in &input[1..size] {
        value = (value << 8) | b as u64;
    }
    *input = &input[size..];
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_boundary() {
        for v in [0, 1, 63, 64, 16383, 16384, 1_073_741_823, 1_073_741_824, MAX] {
            let mut buf = Vec::new();
            write(&mut buf, v);
            assert_eq!(buf.len(), len(v), "{v}");
            let mut slice = buf.as_slice();
            assert_eq!(read(&mut slice), Some(v));
            assert!(slice.is_empty());
        }
    }

    #[test]
    fn short_input_is_none() {
        assert_eq!(read(&mut &[][..]), None);
        assert_eq!(read(&mut &[0x40][..]), None);
        assert_eq!(read(&mut &[0xc0, 0, 0][..]), None);
    }
}
