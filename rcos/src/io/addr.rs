//! Socket addresses given as values, strings or `(host, port)` pairs, resolved without
//! blocking a worker thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// What can name a socket address: a [`SocketAddr`], an `(ip, port)` pair, a string like
/// `"127.0.0.1:8010"` or `"localhost:8010"`, or a `(host, port)` pair.
///
/// Like [`std::net::ToSocketAddrs`], but a host name is looked up on a background
/// thread, so the task that connects waits without holding up a worker; an address
/// that is already numeric is used as is, with no lookup.
///
/// This trait is sealed: the implementations here are all there are.
///
/// ```
/// # rcos::Runtime::new().unwrap().block_on(async {
/// use rcos::io::TcpListener;
///
/// let a = TcpListener::bind("127.0.0.1:0").await?;
/// let b = TcpListener::bind(("127.0.0.1", 0)).await?;
/// let c = TcpListener::bind(([127, 0, 0, 1], 0)).await?;
/// let d = TcpListener::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::*;

    /// The addresses, or a name to look up.
    #[derive(Debug)]
    pub enum Addrs {
        Ready(Vec<SocketAddr>),
        Lookup(String),
    }

    /// The implementation of [`ToSocketAddrs`](super::ToSocketAddrs), kept private so that
    /// it can change.
    pub trait Sealed {
        /// The addresses, when known without a lookup.
        fn into_addrs(self) -> Addrs;
    }
}

use sealed::{Addrs, Sealed};

/// Resolves `addr` to its socket addresses, looking host names up on the blocking
/// thread pool.
pub(crate) async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    match addr.into_addrs() {
        Addrs::Ready(addrs) => Ok(addrs),
        Addrs::Lookup(name) => {
            blocking::unblock(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&name).map(Iterator::collect)
            })
            .await
        }
    }
}

/// Runs `op` on each address in turn until one succeeds, returning the last error if
/// none does.
pub(crate) async fn each_addr<T, F, Fut>(addr: impl ToSocketAddrs, mut op: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in resolve(addr).await? {
        match op(a).await {
            Ok(out) => return Ok(out),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address did not resolve to any socket address",
        )
    }))
}

macro_rules! ready_impl {
    ($($t:ty => |$v:ident| $e:expr;)*) => {
        $(
            impl Sealed for $t {
                fn into_addrs(self) -> Addrs {
                    let $v = self;
                    Addrs::Ready($e)
                }
            }
            impl ToSocketAddrs for $t {}
        )*
    };
}

ready_impl! {
    SocketAddr => |a| vec![a];
    SocketAddrV4 => |a| vec![SocketAddr::V4(a)];
    SocketAddrV6 => |a| vec![SocketAddr::V6(a)];
    (IpAddr, u16) => |a| vec![SocketAddr::new(a.0, a.1)];
    (Ipv4Addr, u16) => |a| vec![SocketAddr::new(IpAddr::V4(a.0), a.1)];
    (Ipv6Addr, u16) => |a| vec![SocketAddr::new(IpAddr::V6(a.0), a.1)];
    ([u8; 4], u16) => |a| vec![SocketAddr::from(a)];
    ([u16; 8], u16) => |a| vec![SocketAddr::from(a)];
    Vec<SocketAddr> => |a| a;
}

impl Sealed for &[SocketAddr] {
    fn into_addrs(self) -> Addrs {
        Addrs::Ready(self.to_vec())
    }
}
impl ToSocketAddrs for &[SocketAddr] {}

impl Sealed for &str {
    fn into_addrs(self) -> Addrs {
        match self.parse::<SocketAddr>() {
            Ok(a) => Addrs::Ready(vec![a]),
            Err(_) => Addrs::Lookup(self.to_string()),
        }
    }
}
impl ToSocketAddrs for &str {}

impl Sealed for String {
    fn into_addrs(self) -> Addrs {
        match self.parse::<SocketAddr>() {
            Ok(a) => Addrs::Ready(vec![a]),
            Err(_) => Addrs::Lookup(self),
        }
    }
}
impl ToSocketAddrs for String {}

impl Sealed for &String {
    fn into_addrs(self) -> Addrs {
        self.as_str().into_addrs()
    }
}
impl ToSocketAddrs for &String {}

impl Sealed for (&str, u16) {
    fn into_addrs(self) -> Addrs {
        let (host, port) = self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Addrs::Ready(vec![SocketAddr::new(ip, port)]),
            Err(_) => Addrs::Lookup(format!("{host}:{port}")),
        }
    }
}
impl ToSocketAddrs for (&str, u16) {}

impl Sealed for (String, u16) {
    fn into_addrs(self) -> Addrs {
        (self.0.as_str(), self.1).into_addrs()
    }
}
impl ToSocketAddrs for (String, u16) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_addresses_need_no_lookup() {
        for addrs in [
            "127.0.0.1:80".into_addrs(),
            ("::1", 80).into_addrs(),
            ([127, 0, 0, 1], 80).into_addrs(),
        ] {
            assert!(matches!(addrs, Addrs::Ready(v) if v.len() == 1));
        }
        assert!(matches!("localhost:80".into_addrs(), Addrs::Lookup(s) if s == "localhost:80"));
        assert!(matches!(("localhost", 80).into_addrs(), Addrs::Lookup(s) if s == "localhost:80"));
    }

    #[test]
    fn localhost_resolves() {
        let addrs = futures_lite::future::block_on(resolve("localhost:80")).unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    }
}
