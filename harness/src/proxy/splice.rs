//! Zero-copy fast path: `splice(2)` socket → pipe → socket, through nix's safe wrappers.
//!
//! Used by a connection direction while no active toxic is attached to it. The pipe is created
//! lazily on the first data, so idle connections cost no pipe. Only Linux has `splice`; elsewhere
//! (or if the kernel refuses) the link copies through user space instead.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::net::TcpStream;

/// Pipe capacity asked for (the kernel may give less). Measured on loopback, larger pipes
/// (256 KiB, 1 MiB) did not move bulk data faster and cost more kernel memory per connection.
const PIPE_SIZE: i32 = 64 << 10;

/// A pipe holding bytes spliced from the source and not yet spliced to the destination.
#[derive(Debug)]
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
    /// Bytes in the pipe.
    pub(crate) len: usize,
}

#[cfg(target_os = "linux")]
impl Pipe {
    pub(crate) fn new() -> io::Result<Pipe> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let capacity = match fcntl(&write, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE)) {
            Ok(n) => n,
            Err(_) => fcntl(&write, FcntlArg::F_GETPIPE_SZ)?,
        };
        Ok(Pipe {
            read,
            write,
            capacity: usize::try_from(capacity).unwrap_or(65536).max(4096),
            len: 0,
        })
    }

    /// Moves bytes from `src` into the (empty) pipe. `Ok(0)` means EOF. `WouldBlock` means no
    /// data (the pipe is empty, so it cannot be the pipe that is full).
    pub(crate) fn fill_from(&mut self, src: &TcpStream) -> io::Result<usize> {
        use nix::fcntl::{splice, SpliceFFlags};
        debug_assert_eq!(self.len, 0);
        let room = self.capacity - self.len;
        let n = src.try_io(Interest::READABLE, || {
            splice(
                src,
                None,
                &self.write,
                None,
                room,
                SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK,
            )
            .map_err(io::Error::from)
        })?;
        self.len += n;
        Ok(n)
    }

    /// Moves bytes from the pipe to `dst`. `WouldBlock` means `dst` is not writable.
    pub(crate) fn drain_to(&mut self, dst: &TcpStream) -> io::Result<usize> {
        use nix::fcntl::{splice, SpliceFFlags};
        let len = self.len;
        let n = dst.try_io(Interest::WRITABLE, || {
            splice(
                &self.read,
                None,
                dst,
                None,
                len,
                SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_NONBLOCK,
            )
            .map_err(io::Error::from)
        })?;
        self.len -= n;
        Ok(n)
    }
}

#[cfg(not(target_os = "linux"))]
impl Pipe {
    pub(crate) fn new() -> io::Result<Pipe> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "splice is Linux-only",
        ))
    }
    pub(crate) fn fill_from(&mut self, _src: &TcpStream) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "splice is Linux-only",
        ))
    }
    pub(crate) fn drain_to(&mut self, _dst: &TcpStream) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "splice is Linux-only",
        ))
    }
}
