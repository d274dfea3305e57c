//! The read half of a DataXceiver connection, with deadlines.
//!
//! A socket read timeout (`SO_RCVTIMEO`) bounds one `recv`, so a peer that
//! trickles a byte now and then (slowloris) never trips it. [`PeerInput`] adds
//! a deadline over a whole unit — an op header, an op's request, a packet, a
//! read status — on top of it: each read first checks the clock and, once the
//! deadline is nearer than the socket's timeout, lowers the timeout to what is
//! left (one `setsockopt`, only near the end), so the unit fails with
//! `TimedOut` at its deadline however the bytes dribble in. Reads far from the
//! deadline cost one clock read (vDSO) and no system call beyond `recv`.

use std::io::{self, BufReader, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Bytes buffered ahead when reading a connection: small, so that packet
/// bodies (64 KiB) bypass the buffer and land straight in the packet buffer.
pub(crate) const INPUT_BUFFER_SIZE: usize = 8 * 1024;

/// The shortest read timeout set near a deadline (`set_read_timeout` refuses
/// zero).
const MIN_READ_TIMEOUT: Duration = Duration::from_millis(1);

/// The buffered read half of a connection.
pub(crate) type Input = BufReader<PeerInput>;

/// A connection's read half with a per-unit deadline.
#[derive(Debug)]
pub(crate) struct PeerInput {
    stream: TcpStream,
    /// When the current unit must be complete.
    deadline: Option<Instant>,
    /// The unit's budget, for the error message.
    budget: Duration,
    /// The read timeout the socket has now.
    timeout: Option<Duration>,
}

impl PeerInput {
    /// Wraps `stream` (its read timeout is managed from here on).
    pub(crate) fn new(stream: TcpStream) -> PeerInput {
        PeerInput {
            stream,
            deadline: None,
            budget: Duration::ZERO,
            timeout: None,
        }
    }

    /// A buffered [`PeerInput`] over `stream`.
    pub(crate) fn buffered(stream: TcpStream) -> Input {
        BufReader::with_capacity(INPUT_BUFFER_SIZE, PeerInput::new(stream))
    }

    /// Starts a unit: it must be read completely within `budget` from now, and no
    /// single read may wait longer than that either.
    pub(crate) fn start(&mut self, budget: Duration) -> io::Result<()> {
        self.until(Instant::now() + budget)
    }

    /// Starts a unit that must be read completely by `deadline`.
    pub(crate) fn until(&mut self, deadline: Instant) -> io::Result<()> {
        let budget = deadline.saturating_duration_since(Instant::now());
        self.deadline = Some(deadline);
        self.budget = budget;
        self.set_timeout(budget)
    }

    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        let t = t.max(MIN_READ_TIMEOUT);
        if self.timeout != Some(t) {
            self.stream.set_read_timeout(Some(t))?;
            self.timeout = Some(t);
        }
        Ok(())
    }
}

impl Read for PeerInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "peer too slow: no complete request or packet within {:?}",
                        self.budget
                    ),
                ));
            }
            if self.timeout.is_none_or(|t| left < t) {
                self.set_timeout(left)?;
            }
        }
        self.stream.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_trickling_peer_times_out_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let writer = std::thread::spawn(move || {
            // A byte every 50 ms for up to 2 s: each recv returns quickly.
            for _ in 0..40 {
                if client.write_all(&[1]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let mut input = PeerInput::new(server);
        let started = Instant::now();
        input.start(Duration::from_millis(400)).unwrap();
        let mut buf = [0u8; 1000];
        let err = input.read_exact(&mut buf).unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err}"
        );
        assert!(took >= Duration::from_millis(390), "{took:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        drop(input);
        writer.join().unwrap();
    }

    #[test]
    fn a_new_unit_gets_a_new_budget() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut input = PeerInput::new(server);
        input.start(Duration::from_millis(100)).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        input.start(Duration::from_secs(5)).unwrap();
        client.write_all(b"abc").unwrap();
        let mut buf = [0u8; 3];
        input.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"abc");
    }
}
