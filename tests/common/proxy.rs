//! A fault-injecting TCP proxy for the multi-process tests, on plain std threads (independent
//! of any async runtime).
//!
//! A [`Proxy`] listens on an ephemeral `127.0.0.1` port and forwards every accepted connection
//! to one target address, byte for byte, in both directions. A test can then:
//! - [`Proxy::cut`] it: `CutMode::Refuse` resets every current connection and resets each new
//!   one as soon as it is accepted (the peer sees its connection closed at once, as when the
//!   host is down); `CutMode::Blackhole` forwards nothing any more, closes nothing and accepts
//!   new connections that never reach the target (the peer sees silence, as in a network
//!   partition: its requests time out).
//! - cut only the connections that come from one source ([`Proxy::cut_source`]): a proxy built
//!   with a [`Classifier`] tags each accepted connection with the id of the process that opened
//!   it (see [`socket_owner`]), so one node can be cut off from a listener that clients still
//!   reach.
//! - [`Proxy::heal`] it: new connections are forwarded again; every connection that lived
//!   through a blackhole is reset (its bytes were dropped, so its peers must reconnect, as they
//!   would after their request timeouts).
//! - [`Proxy::pause`] / [`Proxy::resume`] it: bytes are held (not dropped) and delivered in
//!   order on resume.
//!
//! Invariants: once `cut`, `cut_source` or `pause` has returned, no byte read afterwards is
//! forwarded; at most the one chunk per direction that was already read and being written
//! when it was called still arrives (like a packet already on the wire). Nothing sleeps: the
//! forwarding threads block in `read`, `write` or on the condition variable. Shutting a socket
//! down is what wakes a blocked reader.
//!
//! Concurrency: one accept thread, and per forwarded connection two threads (one per
//! direction). All state sits behind one mutex with one condvar; no lock is held across I/O.
//! Dropping the proxy closes the listener's loop, shuts every connection down and joins every
//! thread it started.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How a cut connection behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutMode {
    /// Reset every connection (current and new) at once: "host down / port closed".
    Refuse,
    /// Forward nothing and close nothing; new connections are accepted and never forwarded:
    /// "packets dropped" (a network partition).
    Blackhole,
}

/// Tags an accepted connection with its source (e.g. a node id), from the peer's address and
/// the proxy's own listening address. `None` = an untagged source (a test client).
pub type Classifier = Arc<dyn Fn(SocketAddr, SocketAddr) -> Option<i32> + Send + Sync>;

/// How long a forwarded connection waits to connect to the target before giving up (the
/// client's connection is then reset, as if the target refused it).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    target: SocketAddr,
}

#[derive(Default)]
struct State {
    /// A cut of every connection.
    all: Option<CutMode>,
    /// Cuts of the connections of one source.
    sources: HashMap<i32, CutMode>,
    paused: bool,
    closing: bool,
    next_id: u64,
    accepted: u64,
    conns: HashMap<u64, Conn>,
    /// Connections accepted during a blackhole: held open, never forwarded.
    held: Vec<(Option<i32>, TcpStream)>,
    threads: Vec<JoinHandle<()>>,
}

struct Conn {
    source: Option<i32>,
    client: TcpStream,
    upstream: Option<TcpStream>,
    /// Lived through a blackhole: bytes were dropped, so it is reset on heal.
    silenced: bool,
    reset: bool,
}

impl State {
    fn rule(&self, source: Option<i32>) -> Option<CutMode> {
        self.all
            .or_else(|| source.and_then(|s| self.sources.get(&s).copied()))
    }

    /// Bring every connection in line with the current rules.
    fn apply(&mut self) {
        let rules: Vec<(u64, Option<CutMode>)> = self
            .conns
            .iter()
            .map(|(id, c)| (*id, self.rule(c.source)))
            .collect();
        for (id, rule) in rules {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            match rule {
                Some(CutMode::Refuse) => c.reset(),
                Some(CutMode::Blackhole) => c.silenced = true,
                None if c.silenced => c.reset(),
                None => {}
            }
        }
        let held = std::mem::take(&mut self.held);
        for (source, stream) in held {
            if self.rule(source) == Some(CutMode::Blackhole) && !self.closing {
                self.held.push((source, stream));
            } else {
                reset_stream(&stream);
            }
        }
    }
}

impl Conn {
    fn reset(&mut self) {
        self.reset = true;
        reset_stream(&self.client);
        if let Some(u) = &self.upstream {
            reset_stream(u);
        }
    }
}

/// Close abortively: linger 0 makes the final close send RST; shutting both directions down
/// wakes any thread blocked reading or writing it.
fn reset_stream(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = s.shutdown(Shutdown::Both);
}

impl Proxy {
    /// A proxy to `target` on a fresh ephemeral port of 127.0.0.1, forwarding.
    pub fn start(target: SocketAddr) -> Proxy {
        Proxy::start_with(target, None)
    }

    /// As [`Proxy::start`], tagging each accepted connection's source with `classify`.
    pub fn start_with(target: SocketAddr, classify: Option<Classifier>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            target,
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || accept_loop(s, listener, addr, classify))
            .expect("spawn proxy thread");
        Proxy {
            addr,
            target,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn change(&self, f: impl FnOnce(&mut State)) {
        let mut st = self.lock();
        f(&mut st);
        st.apply();
        self.shared.wake.notify_all();
    }

    /// Cut every connection, current and new.
    pub fn cut(&self, mode: CutMode) {
        self.change(|st| st.all = Some(mode));
    }

    /// Cut the connections tagged with `source` (needs a classifier).
    pub fn cut_source(&self, source: i32, mode: CutMode) {
        self.change(|st| {
            st.sources.insert(source, mode);
        });
    }

    /// Lift the cut of every connection (cuts of single sources stay).
    pub fn heal(&self) {
        self.change(|st| st.all = None);
    }

    /// Lift the cut of the connections of `source`.
    pub fn heal_source(&self, source: i32) {
        self.change(|st| {
            st.sources.remove(&source);
        });
    }

    /// Lift every cut.
    pub fn heal_all(&self) {
        self.change(|st| {
            st.all = None;
            st.sources.clear();
        });
    }

    /// The current cut of every connection.
    pub fn cut_mode(&self) -> Option<CutMode> {
        self.lock().all
    }

    /// The current cut of the connections of `source` (a cut of every connection aside).
    pub fn source_cut(&self, source: i32) -> Option<CutMode> {
        self.lock().sources.get(&source).copied()
    }

    /// Hold every byte (nothing dropped) until [`Proxy::resume`].
    pub fn pause(&self) {
        self.change(|st| st.paused = true);
    }

    pub fn resume(&self) {
        self.change(|st| st.paused = false);
    }

    /// Connections accepted so far (forwarded, reset or held).
    pub fn accepted(&self) -> u64 {
        self.lock().accepted
    }

    /// Connections currently forwarded (or silenced) plus those held by a blackhole.
    pub fn open_connections(&self) -> usize {
        let st = self.lock();
        st.conns.len() + st.held.len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        {
            let mut st = self.lock();
            st.closing = true;
            for c in st.conns.values_mut() {
                c.reset();
            }
            st.apply();
            self.shared.wake.notify_all();
        }
        // Wake the accept loop; it sees `closing` and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let threads = std::mem::take(&mut self.lock().threads);
        for t in threads {
            let _ = t.join();
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    local: SocketAddr,
    classify: Option<Classifier>,
) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            if lock(&shared).closing {
                return;
            }
            continue;
        };
        let source = match (&classify, stream.peer_addr()) {
            (Some(f), Ok(peer)) => f(peer, local),
            _ => None,
        };
        let mut st = lock(&shared);
        if st.closing {
            return;
        }
        st.accepted += 1;
        st.threads.retain(|t| !t.is_finished());
        match st.rule(source) {
            Some(CutMode::Refuse) => reset_stream(&stream),
            Some(CutMode::Blackhole) => st.held.push((source, stream)),
            None => {
                let Ok(clone) = stream.try_clone() else {
                    reset_stream(&stream);
                    continue;
                };
                let id = st.next_id;
                st.next_id += 1;
                st.conns.insert(
                    id,
                    Conn {
                        source,
                        client: clone,
                        upstream: None,
                        silenced: false,
                        reset: false,
                    },
                );
                let s = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("proxy-conn-{}", local.port()))
                    .spawn(move || serve(s, id, source, stream));
                match spawned {
                    Ok(h) => st.threads.push(h),
                    Err(_) => {
                        if let Some(mut c) = st.conns.remove(&id) {
                            c.reset();
                        }
                    }
                }
            }
        }
    }
}

/// One forwarded connection: connect to the target, pipe both ways, deregister.
fn serve(shared: Arc<Shared>, id: u64, source: Option<i32>, client: TcpStream) {
    let upstream = TcpStream::connect_timeout(&shared.target, CONNECT_TIMEOUT);
    let pair = upstream.and_then(|u| {
        let _ = u.set_nodelay(true);
        let _ = client.set_nodelay(true);
        Ok((u.try_clone()?, u, client.try_clone()?))
    });
    let Ok((up_read, up_write, client_write)) = pair else {
        reset_stream(&client);
        lock(&shared).conns.remove(&id);
        return;
    };
    {
        let mut st = lock(&shared);
        match st.conns.get_mut(&id) {
            Some(c) if !c.reset => match up_write.try_clone() {
                Ok(u) => c.upstream = Some(u),
                Err(_) => c.reset(),
            },
            _ => {}
        }
        if st.conns.get(&id).is_none_or(|c| c.reset) {
            drop(st);
            reset_stream(&up_write);
            reset_stream(&client);
            lock(&shared).conns.remove(&id);
            return;
        }
    }
    let s = shared.clone();
    let back = std::thread::Builder::new()
        .name("proxy-pipe".into())
        .spawn(move || pipe(&s, id, source, up_read, client_write));
    pipe(&shared, id, source, client, up_write);
    if let Ok(h) = back {
        let _ = h.join();
    }
    lock(&shared).conns.remove(&id);
}

enum Gate {
    Forward,
    Discard,
    Stop,
}

/// Wait until a chunk read from connection `id` may go on: forwarded, dropped, or the
/// connection is finished.
fn gate(shared: &Shared, id: u64, source: Option<i32>) -> Gate {
    let mut st = lock(shared);
    loop {
        if st.closing {
            return Gate::Stop;
        }
        let rule = st.rule(source);
        let Some(c) = st.conns.get_mut(&id) else {
            return Gate::Stop;
        };
        if c.reset {
            return Gate::Stop;
        }
        match rule {
            Some(CutMode::Refuse) => return Gate::Stop,
            Some(CutMode::Blackhole) => {
                c.silenced = true;
                return Gate::Discard;
            }
            None if c.silenced => return Gate::Stop,
            None if st.paused => {
                st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            None => return Gate::Forward,
        }
    }
}

/// Copy `from` to `to` until EOF, an error, or a cut/reset of the connection.
fn pipe(shared: &Shared, id: u64, source: Option<i32>, mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let clean_eof = loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => n,
            Err(_) => break false,
        };
        match gate(shared, id, source) {
            Gate::Forward => {
                if to.write_all(&buf[..n]).is_err() {
                    break false;
                }
            }
            Gate::Discard => {}
            Gate::Stop => break false,
        }
    };
    let reset = lock(shared).conns.get(&id).is_none_or(|c| c.reset);
    if clean_eof && !reset {
        // Pass the half-close on; the other direction may still carry data.
        let _ = to.shutdown(Shutdown::Write);
    } else {
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    }
}

/// The pid, among `candidates`, of the process holding the client end of a loopback TCP
/// connection accepted by a listener at `local` from `peer`: the socket whose local port is
/// the peer's port and whose remote port is the listener's (from /proc/net/tcp and tcp6),
/// then the process with an fd on that socket inode. None when not found (not Linux, the
/// connection already gone, or another process).
pub fn socket_owner(peer: SocketAddr, local: SocketAddr, candidates: &[u32]) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .find_map(|table| inode_of(&table, peer.port(), local.port()))?;
    let needle = format!("socket:[{inode}]");
    candidates.iter().copied().find(|pid| {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == needle.as_str()))
    })
}

/// The inode of the socket with local port `lport` and remote port `rport` in a
/// /proc/net/tcp table.
fn inode_of(table: &str, lport: u16, rport: u16) -> Option<u64> {
    let port = |field: &str| {
        field
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 9 && port(f[1]) == Some(lport) && port(f[2]) == Some(rport) {
            f[9].parse().ok().filter(|&i| i != 0)
        } else {
            None
        }
    })
}
