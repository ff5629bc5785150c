//! A few blocking RESP requests to the cluster's private Redis: `PING` (is it up) and the total number
//! of commands it has executed, from `INFO commandstats` (the `INFO` calls themselves left out).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Sends one command (as a RESP array of bulk strings) and returns the raw reply.
fn request(addr: SocketAddr, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("redis closed the connection");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(body) = complete(&buf)? {
            return Ok(body);
        }
    }
}

/// The reply's payload once `buf` holds all of it: a simple string's text or a bulk string's body.
fn complete(buf: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..eol])?;
    match head.as_bytes().first() {
        Some(b'+') => Ok(Some(head.as_bytes()[1..].to_vec())),
        Some(b'$') => {
            let len: usize = head[1..].parse().context("bad bulk length")?;
            let start = eol + 2;
            Ok((buf.len() >= start + len).then(|| buf[start..start + len].to_vec()))
        }
        _ => bail!("unexpected redis reply {head:?}"),
    }
}

/// Whether Redis answers `PING`.
pub fn ping(addr: SocketAddr) -> anyhow::Result<()> {
    let r = request(addr, &["PING"])?;
    if r != b"PONG" {
        bail!("PING answered {:?}", String::from_utf8_lossy(&r));
    }
    Ok(())
}

/// Total calls over every command in `INFO commandstats`, except `INFO` itself.
pub fn command_calls(addr: SocketAddr) -> anyhow::Result<u64> {
    let text = String::from_utf8(request(addr, &["INFO", "commandstats"])?)?;
    Ok(sum_calls(&text))
}

/// Sums `calls=N` of the `cmdstat_*` lines, leaving out `cmdstat_info`.
fn sum_calls(text: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter(|l| !l.starts_with("info:"))
        .filter_map(|l| {
            l.split_once(':')?
                .1
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_calls_without_info() {
        let text = "# Commandstats\r\n\
            cmdstat_evalsha:calls=10,usec=50,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n\
            cmdstat_info:calls=7,usec=1,usec_per_call=0.1,rejected_calls=0,failed_calls=0\r\n\
            cmdstat_publish:calls=32,usec=9,usec_per_call=0.3,rejected_calls=0,failed_calls=0\r\n";
        assert_eq!(sum_calls(text), 42);
    }

    #[test]
    fn bulk_reply_waits_for_its_body() {
        assert_eq!(complete(b"$5\r\nhel").unwrap(), None);
        assert_eq!(
            complete(b"$5\r\nhello\r\n").unwrap(),
            Some(b"hello".to_vec())
        );
        assert_eq!(complete(b"+PONG\r\n").unwrap(), Some(b"PONG".to_vec()));
        assert!(complete(b"-ERR no\r\n").is_err());
    }
}
