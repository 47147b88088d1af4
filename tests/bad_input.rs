//! Bad input over raw sockets: each kind closes that connection (or gets a Kafka error code),
//! never a panic or a hang, and other connections keep being served.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{Broker, Client};
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
};

/// The broker closes the connection: read returns EOF (or reset) well before the timeout.
fn assert_closed(c: &mut Client) {
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("connection not closed after {:?}", start.elapsed())
            }
            Err(_) => return,
        }
    }
}

fn healthy(b: &Broker) {
    let mut c = b.client();
    let r: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
    assert_eq!(r.error_code, 0);
    let r: MetadataResponse = c.call(12, &MetadataRequest::default().with_topics(None));
    assert_eq!(r.brokers.len(), 1);
}

#[test]
fn garbage_and_malformed_frames_close_only_that_connection() {
    let b = Broker::start(&["socket.request.max.bytes=1048576"]);
    let mut bystander = b.client();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("negative size", (-5i32).to_be_bytes().to_vec()),
        ("oversized", (2_000_000i32).to_be_bytes().to_vec()),
        (
            "unknown api key",
            [
                &12i32.to_be_bytes()[..],
                &[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0],
            ]
            .concat(),
        ),
        (
            "unsupported produce version",
            [
                &12i32.to_be_bytes()[..],
                &[0, 0, 0, 99, 0, 0, 0, 1, 0xff, 0xff, 0, 0],
            ]
            .concat(),
        ),
        (
            "too short for a header",
            [&3i32.to_be_bytes()[..], &[0, 3, 0]].concat(),
        ),
        (
            "garbage body",
            [
                &20i32.to_be_bytes()[..],
                &[
                    0, 3, 0, 12, 0, 0, 0, 1, 0x7f, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                ],
            ]
            .concat(),
        ),
        // Regression (found by fuzz target `frame`): an array length of 2^31-1 in a 12-byte
        // Metadata request used to make the decoder pre-allocate ~150 GB and abort the broker.
        (
            "huge array length",
            [
                &12i32.to_be_bytes()[..],
                &[0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
            ]
            .concat(),
        ),
        (
            "huge compact array length",
            [
                &13i32.to_be_bytes()[..],
                &[
                    0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
                ],
            ]
            .concat(),
        ),
        (
            "random bytes",
            (0..200u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
    ];
    for (what, bytes) in cases {
        let mut c = b.client();
        c.send_raw(&bytes);
        if what == "random bytes" {
            // Either closed or waiting for the rest of a frame; close our side and move on.
            drop(c);
        } else {
            assert_closed(&mut c);
        }
        healthy(&b);
    }
    // A truncated frame followed by close: the broker drops it and keeps serving.
    let mut c = b.client();
    c.send_raw(&[0, 0, 0, 100, 0, 18, 0, 3]);
    drop(c);
    healthy(&b);
    let r: ApiVersionsResponse = bystander.call(0, &ApiVersionsRequest::default());
    assert_eq!(r.error_code, 0);
}

#[test]
fn max_connections_is_enforced() {
    let b = Broker::start(&["max.connections=3"]);
    // The start-up probe connection must be gone before we count.
    std::thread::sleep(Duration::from_millis(300));
    let mut held: Vec<Client> = (0..3).map(|_| b.client()).collect();
    for c in held.iter_mut() {
        let r: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
        assert_eq!(r.error_code, 0);
    }
    // As in Kafka, a connection beyond the limit waits (it is not served) until a slot frees.
    let mut extra = b.client();
    extra
        .stream
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let corr = extra.send(3, &ApiVersionsRequest::default());
    let mut buf = [0u8; 4];
    match extra.stream.read(&mut buf) {
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut => {}
        other => panic!("a connection beyond max.connections=3 was answered: {other:?}"),
    }
    drop(held.pop());
    extra
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let r = extra.recv::<ApiVersionsRequest>(3, corr);
    assert_eq!(r.error_code, 0);
    drop(held);
    drop(extra);
    healthy(&b);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    let mut sent = Vec::new();
    for i in 0..50 {
        if i % 2 == 0 {
            sent.push((true, c.send(3, &ApiVersionsRequest::default())));
        } else {
            sent.push((
                false,
                c.send(12, &MetadataRequest::default().with_topics(None)),
            ));
        }
    }
    for (is_av, corr) in sent {
        if is_av {
            let r = c.recv::<ApiVersionsRequest>(3, corr);
            assert_eq!(r.error_code, 0);
        } else {
            let r = c.recv::<MetadataRequest>(12, corr);
            assert_eq!(r.brokers.len(), 1);
        }
    }
}

#[test]
fn queued_request_bytes_bound_memory_across_connections() {
    let b = Broker::start(&["queued.max.request.bytes=2000"]);
    // A announces a 1990-byte frame and sends only part of it: it holds 1990 of the 2000 bytes.
    let mut a = b.client();
    a.send_raw(&[&1990i32.to_be_bytes()[..], &[0, 18, 0, 0, 0, 0, 0, 1]].concat());
    std::thread::sleep(Duration::from_millis(200));
    // B's small request must wait for room...
    let mut c = b.client();
    c.stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let corr = c.send(3, &ApiVersionsRequest::default());
    let mut buf = [0u8; 4];
    assert!(
        c.stream.read_exact(&mut buf).is_err(),
        "served while the pool was full"
    );
    // ...and is served once A goes away and its bytes are released.
    drop(a);
    c.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let r = c.recv::<ApiVersionsRequest>(3, corr);
    assert_eq!(r.error_code, 0);
    // A request bigger than the whole pool still gets through (it takes all of it).
    let mut d = b.client();
    let big = MetadataRequest::default().with_topics(Some(
        (0..300)
            .map(|i| {
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(kafka_protocol::messages::TopicName(
                        kafka_protocol::protocol::StrBytes::from_string(format!("t{i:010}")),
                    )))
            })
            .collect(),
    ));
    let r: MetadataResponse = d.call(12, &big);
    assert_eq!(r.topics.len(), 300);
}
