//! The fault-injecting proxy of the cluster tests (tests/common/proxy.rs) on its own, in front
//! of plain TCP echo servers: forwarding, half-close, refuse and blackhole cuts, heal, pause,
//! cuts of one source process, and a clean drop.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::proxy::{socket_owner, Classifier, CutMode, Proxy};

/// How long a test waits to conclude that nothing arrives (silence is only observable as a
/// bounded wait).
const SILENCE: Duration = Duration::from_millis(300);

/// An echo server on an ephemeral port; counts the connections it accepted.
struct Echo {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Echo {
    fn start() -> Echo {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (a, s, c, t) = (
            accepted.clone(),
            stop.clone(),
            conns.clone(),
            threads.clone(),
        );
        let acceptor = std::thread::spawn(move || {
            for stream in l.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                c.lock().unwrap().push(stream.try_clone().unwrap());
                t.lock().unwrap().push(std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = stream.shutdown(Shutdown::Both);
                }));
            }
        });
        Echo {
            addr,
            accepted,
            stop,
            conns,
            threads,
            acceptor: Some(acceptor),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        let _ = self.acceptor.take().unwrap().join();
        for c in self.conns.lock().unwrap().iter() {
            let _ = c.shutdown(Shutdown::Both);
        }
        for t in self.threads.lock().unwrap().drain(..) {
            let _ = t.join();
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Send `msg` and read it back.
fn echo_round_trip(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

/// True when the connection is closed (EOF or reset) — observed within 10 s.
fn is_closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = [0u8; 16];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(n) => panic!("expected a closed connection, read {n} bytes"),
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// True when nothing arrives within SILENCE (and the connection is not closed).
fn is_silent(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(SILENCE)).unwrap();
    let mut b = [0u8; 16];
    let r = s.read(&mut b);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    matches!(r, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn proxy_forwards_both_ways_and_passes_half_close_on() {
    let echo = Echo::start();
    let proxy = Proxy::start(echo.addr);
    assert_eq!(proxy.target(), echo.addr);
    let mut s = connect(proxy.addr());
    echo_round_trip(&mut s, b"hello");
    // 2 MiB in one go: more than the proxy's buffer and the sockets' buffers.
    let big: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut reader = s.try_clone().unwrap();
    let expected = big.clone();
    let t = std::thread::spawn(move || {
        let mut got = vec![0u8; expected.len()];
        reader.read_exact(&mut got).unwrap();
        assert!(got == expected, "2 MiB echoed intact and in order");
    });
    s.write_all(&big).unwrap();
    t.join().unwrap();
    // Half-close: the server sees EOF, closes, and we see EOF.
    s.shutdown(Shutdown::Write).unwrap();
    assert!(is_closed(&mut s));
    assert_eq!(echo.accepted(), 1);
    assert_eq!(proxy.accepted(), 1);
    wait_until("the connection to be deregistered", || {
        proxy.open_connections() == 0
    });
}

#[test]
fn refuse_cut_resets_current_and_new_connections_until_heal() {
    let echo = Echo::start();
    let proxy = Proxy::start(echo.addr);
    let mut before = connect(proxy.addr());
    echo_round_trip(&mut before, b"ping");
    proxy.cut(CutMode::Refuse);
    assert_eq!(proxy.cut_mode(), Some(CutMode::Refuse));
    assert!(is_closed(&mut before), "a current connection is reset");
    let mut during = connect(proxy.addr());
    let _ = during.write_all(b"x");
    assert!(is_closed(&mut during), "a new connection is reset at once");
    assert_eq!(
        echo.accepted(),
        1,
        "nothing reached the target during the cut"
    );
    proxy.heal();
    assert_eq!(proxy.cut_mode(), None);
    let mut after = connect(proxy.addr());
    echo_round_trip(&mut after, b"again");
    assert_eq!(echo.accepted(), 2);
    assert_eq!(proxy.accepted(), 3);
}

#[test]
fn blackhole_drops_bytes_silently_and_heal_resets_the_connections_that_lived_through_it() {
    let echo = Echo::start();
    let proxy = Proxy::start(echo.addr);
    let mut before = connect(proxy.addr());
    echo_round_trip(&mut before, b"ping");
    proxy.cut(CutMode::Blackhole);
    before.write_all(b"lost").unwrap();
    assert!(
        is_silent(&mut before),
        "no echo during the blackhole, no close either"
    );
    let mut during = connect(proxy.addr());
    during.write_all(b"also lost").unwrap();
    assert!(is_silent(&mut during));
    assert_eq!(
        echo.accepted(),
        1,
        "a blackholed new connection never reaches the target"
    );
    assert_eq!(proxy.open_connections(), 2);
    proxy.heal();
    assert!(
        is_closed(&mut before),
        "reset on heal: its bytes were dropped"
    );
    assert!(
        is_closed(&mut during),
        "reset on heal: it was never forwarded"
    );
    let mut after = connect(proxy.addr());
    echo_round_trip(&mut after, b"back");
    assert_eq!(echo.accepted(), 2);
}

#[test]
fn pause_holds_bytes_and_resume_delivers_them_in_order() {
    let echo = Echo::start();
    let proxy = Proxy::start(echo.addr);
    let mut s = connect(proxy.addr());
    echo_round_trip(&mut s, b"warm");
    proxy.pause();
    s.write_all(b"one,").unwrap();
    s.write_all(b"two,").unwrap();
    assert!(is_silent(&mut s), "nothing forwarded while paused");
    proxy.resume();
    let mut got = [0u8; 8];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"one,two,");
    echo_round_trip(&mut s, b"still open");
    assert_eq!(echo.accepted(), 1);
}

/// A connection from another process (bash's /dev/tcp) through `proxy`: sends `ping`, returns
/// what came back (empty when cut).
fn ping_from_child(proxy: &Proxy) -> String {
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{} || exit 1; printf ping >&3; timeout 5 head -c 4 <&3",
        proxy.port()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn source_cut_cuts_only_the_connections_of_that_process() {
    let echo = Echo::start();
    let me = std::process::id();
    let classify: Classifier = Arc::new(move |peer, local| {
        socket_owner(peer, local, &[me]).map(|pid| {
            assert_eq!(pid, me);
            7
        })
    });
    let proxy = Proxy::start_with(echo.addr, Some(classify));
    let mut mine = connect(proxy.addr());
    echo_round_trip(&mut mine, b"mine");
    assert_eq!(
        ping_from_child(&proxy),
        "ping",
        "another process is forwarded"
    );

    proxy.cut_source(7, CutMode::Refuse);
    assert!(is_closed(&mut mine), "this process's connection is reset");
    let mut again = connect(proxy.addr());
    assert!(is_closed(&mut again), "and so is its next one");
    assert_eq!(
        ping_from_child(&proxy),
        "ping",
        "another process's connection still goes through"
    );

    proxy.cut_source(7, CutMode::Blackhole);
    let mut silent = connect(proxy.addr());
    silent.write_all(b"x").unwrap();
    assert!(is_silent(&mut silent));
    assert_eq!(ping_from_child(&proxy), "ping");

    proxy.heal_source(7);
    assert!(is_closed(&mut silent), "reset on heal");
    let mut back = connect(proxy.addr());
    echo_round_trip(&mut back, b"back");
}

#[test]
fn socket_owner_finds_the_process_holding_the_client_end() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = l.local_addr().unwrap();
    let _client = TcpStream::connect(local).unwrap();
    let (_server, peer) = l.accept().unwrap();
    let me = std::process::id();
    assert_eq!(socket_owner(peer, local, &[1, me]), Some(me));
    assert_eq!(
        socket_owner(peer, local, &[1]),
        None,
        "not among the candidates"
    );
}

#[test]
fn dropping_the_proxy_closes_every_connection_and_the_listener() {
    let echo = Echo::start();
    let proxy = Proxy::start(echo.addr);
    let addr = proxy.addr();
    let mut forwarded = connect(addr);
    echo_round_trip(&mut forwarded, b"x");
    proxy.pause();
    let mut paused = connect(addr);
    paused.write_all(b"held").unwrap();
    let started = Instant::now();
    drop(proxy);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drop returns promptly ({:?})",
        started.elapsed()
    );
    assert!(is_closed(&mut forwarded));
    assert!(is_closed(&mut paused));
    assert!(TcpStream::connect(addr).is_err(), "the listener is gone");
}
