//! RFC 1350's netascii transfer mode for reads: the file's line ends as the network
//! standard (RFC 764) writes them. The length changes, so a netascii read has no tsize.

use std::io::{self, Read};

/// RFC 1350 netascii: LF becomes CR LF, CR becomes CR NUL.
pub struct Netascii<R> {
    inner: R,
    pending: Option<u8>,
}

impl<R> Netascii<R> {
    pub fn new(inner: R) -> Self {
        Netascii {
            inner,
            pending: None,
        }
    }
}

impl<R: Read> Read for Netascii<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        let mut byte = [0u8; 1];
        while n < buf.len() {
            if let Some(p) = self.pending.take() {
                buf[n] = p;
                n += 1;
                continue;
            }
            if self.inner.read(&mut byte)? == 0 {
                break;
            }
            match byte[0] {
                b'\n' => {
                    buf[n] = b'\r';
                    self.pending = Some(b'\n');
                }
                b'\r' => {
                    buf[n] = b'\r';
                    self.pending = Some(0);
                }
                b => buf[n] = b,
            }
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_feeds_and_carriage_returns_become_netascii() {
        let mut out = Vec::new();
        Netascii::new(&b"a\nb\rc"[..])
            .read_to_end(&mut out)
            .expect("read");
        assert_eq!(out, b"a\r\nb\r\0c");
    }
}
