//! Little-endian field encoding shared by edit records and the image.
//!
//! Integers are fixed-width little-endian; byte strings and UTF-8 strings are a `u32`
//! length then the bytes; `Option<T>` is a `u8` tag (0 = none, 1 = some) then `T`; lists
//! are a `u32` count then the items. Decoding never panics: running out of bytes or an
//! impossible value is a [`DecodeError`]. No length or count read from the bytes
//! reserves memory before the bytes it covers are known to be there: a string's
//! length is checked against what remains, a list's count against what remains
//! divided by the item size.

/// Why a field could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ended inside a field.
    Truncated,
    /// A tag, opcode or length that cannot be right.
    Invalid(&'static str),
}

/// Appends fields to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    pub fn bytes(&mut self, v: &[u8]) {
        // Names and strings are bounded far below 4 GiB by path validation.
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    pub fn opt_str(&mut self, v: Option<&str>) {
        match v {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    pub fn u64s(&mut self, v: &[u64]) {
        self.u32(v.len() as u32);
        for x in v {
            self.u64(*x);
        }
    }
}

/// Reads fields from a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    /// Length of the slice the reader started with.
    total: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            total: buf.len(),
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Bytes consumed so far: where the next field starts (after a failed read,
    /// where the failing field starts).
    pub fn position(&self) -> usize {
        self.total - self.buf.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid("bool")),
        }
    }
    pub fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    pub fn str(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?).map_err(|_| DecodeError::Invalid("utf-8"))
    }
    pub fn opt_str(&mut self) -> Result<Option<String>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            _ => Err(DecodeError::Invalid("option tag")),
        }
    }
    pub fn u64s(&mut self) -> Result<Vec<u64>, DecodeError> {
        let n = self.u32()? as usize;
        if n > self.buf.len() / 8 {
            return Err(DecodeError::Truncated);
        }
        (0..n).map(|_| self.u64()).collect()
    }
}

/// A value with one encoding, so edit records and image sections can be declared as lists
/// of typed fields (see [`super::op`]).
pub trait Field: Sized {
    fn put(&self, w: &mut Writer);
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

macro_rules! field_via {
    ($($ty:ty => $put:ident / $get:ident),* $(,)?) => {$(
        impl Field for $ty {
            fn put(&self, w: &mut Writer) {
                w.$put(*self);
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.$get()
            }
        }
    )*};
}
field_via!(u8 => u8 / u8, u16 => u16 / u16, u32 => u32 / u32, u64 => u64 / u64, i64 => i64 / i64, bool => bool / bool);

impl Field for Vec<u8> {
    fn put(&self, w: &mut Writer) {
        w.bytes(self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.bytes()
    }
}

impl Field for String {
    fn put(&self, w: &mut Writer) {
        w.str(self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.str()
    }
}

impl Field for Option<String> {
    fn put(&self, w: &mut Writer) {
        w.opt_str(self.as_deref());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.opt_str()
    }
}

impl Field for Vec<u64> {
    fn put(&self, w: &mut Writer) {
        w.u64s(self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64s()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_field_type() {
        let mut w = Writer::default();
        w.u8(7);
        w.u16(0x1234);
        w.u32(0xdead_beef);
        w.u64(u64::MAX - 1);
        w.i64(-5);
        w.bool(true);
        w.bytes(b"ab");
        w.str("héllo");
        w.opt_str(None);
        w.opt_str(Some("x"));
        w.u64s(&[1, 2, 3]);
        assert_eq!(&w.buf[1..3], &[0x34, 0x12]);
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u16(), Ok(0x1234));
        assert_eq!(r.u32(), Ok(0xdead_beef));
        assert_eq!(r.u64(), Ok(u64::MAX - 1));
        assert_eq!(r.i64(), Ok(-5));
        assert_eq!(r.bool(), Ok(true));
        assert_eq!(r.bytes(), Ok(b"ab".to_vec()));
        assert_eq!(r.str(), Ok("héllo".to_owned()));
        assert_eq!(r.opt_str(), Ok(None));
        assert_eq!(r.opt_str(), Ok(Some("x".to_owned())));
        assert_eq!(r.u64s(), Ok(vec![1, 2, 3]));
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.position(), w.buf.len());
        assert_eq!(r.u8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn hostile_lengths_do_not_allocate_or_panic() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(r.bytes(), Err(DecodeError::Truncated));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(r.u64s(), Err(DecodeError::Truncated));
        let mut r = Reader::new(&[2]);
        assert_eq!(r.bool(), Err(DecodeError::Invalid("bool")));
    }
}
