use super::*;

#[test]
fn avro_and_json_framing_is_magic_then_the_big_endian_id() {
    assert_eq!(
        frame(1, None, b"\x02x"),
        vec![0x00, 0x00, 0x00, 0x00, 0x01, 0x02, b'x']
    );
    assert_eq!(
        frame(0x0102_0304, None, b""),
        vec![0x00, 0x01, 0x02, 0x03, 0x04]
    );
    assert_eq!(frame(-1, None, b"z"), vec![0, 0xff, 0xff, 0xff, 0xff, b'z']);
    assert_eq!(
        unframe_id(&[0, 0, 0, 1, 0, 9, 9]),
        Some((256, &[9u8, 9][..]))
    );
    assert_eq!(unframe_id(&[0, 0, 0, 0, 7]), Some((7, &[][..])));
    assert_eq!(
        unframe_id(&[0, 0xff, 0xff, 0xff, 0xfe]),
        Some((-2, &[][..]))
    );
}

#[test]
fn unframe_refuses_other_magic_bytes_and_short_input() {
    assert_eq!(unframe_id(&[]), None);
    assert_eq!(unframe_id(&[0, 0, 0, 1]), None);
    assert_eq!(unframe_id(&[1, 0, 0, 0, 1, 5]), None);
    assert_eq!(unframe_id(b"{\"a\":1}"), None);
}

#[test]
fn protobuf_first_message_index_is_a_single_zero_byte() {
    assert_eq!(
        frame(5, Some(&[0]), b"\x08\x01"),
        vec![0, 0, 0, 0, 5, 0x00, 0x08, 0x01]
    );
    // An empty index list is written the way it reads back: [0].
    assert_eq!(frame(5, Some(&[]), b""), vec![0, 0, 0, 0, 5, 0x00]);
    assert_eq!(
        read_message_indexes(&[0x00, 0x08]),
        Some((vec![0], &[0x08u8][..]))
    );
}

#[test]
fn protobuf_message_indexes_are_a_zigzag_count_then_zigzag_indexes() {
    // [1, 2]: count 2 -> 0x04, 1 -> 0x02, 2 -> 0x04.
    let framed = frame(7, Some(&[1, 2]), b"\x0a");
    assert_eq!(framed, vec![0, 0, 0, 0, 7, 0x04, 0x02, 0x04, 0x0a]);
    let (id, rest) = unframe_id(&framed).unwrap();
    assert_eq!(id, 7);
    assert_eq!(
        read_message_indexes(rest),
        Some((vec![1, 2], &[0x0au8][..]))
    );
    // [0, 0] is not the special case: a count and two zeros.
    assert_eq!(frame(1, Some(&[0, 0]), b"")[5..], [0x04, 0x00, 0x00]);
    // [3]: count 1 -> 0x02, 3 -> 0x06. Index 64 takes two bytes (zig-zag 128).
    assert_eq!(frame(1, Some(&[3]), b"")[5..], [0x02, 0x06]);
    assert_eq!(frame(1, Some(&[64]), b"")[5..], [0x02, 0x80, 0x01]);
    assert_eq!(
        read_message_indexes(&[0x02, 0x80, 0x01]),
        Some((vec![64], &[][..]))
    );
    let big = [0, 5, 1000, i32::MAX];
    let framed = frame(1, Some(&big), b"tail");
    let (indexes, rest) = read_message_indexes(&framed[5..]).unwrap();
    assert_eq!((indexes, rest), (big.to_vec(), &b"tail"[..]));
}

#[test]
fn malformed_message_indexes_are_refused() {
    assert_eq!(read_message_indexes(&[]), None);
    // Count 2 but one index.
    assert_eq!(read_message_indexes(&[0x04, 0x02]), None);
    // Negative count (zig-zag 1 = -1), negative index.
    assert_eq!(read_message_indexes(&[0x01]), None);
    assert_eq!(read_message_indexes(&[0x02, 0x01]), None);
    // A huge count with few bytes allocates nothing and fails.
    assert_eq!(
        read_message_indexes(&[0xfe, 0xff, 0xff, 0xff, 0x07, 0]),
        None
    );
    // A varint longer than 5 bytes or beyond 32 bits.
    assert_eq!(
        read_message_indexes(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        None
    );
    assert_eq!(read_message_indexes(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None);
    // Every short prefix of a valid list fails cleanly.
    let framed = frame(1, Some(&[1, 300, 70000]), b"");
    for cut in 5..framed.len() {
        assert_eq!(read_message_indexes(&framed[5..cut]), None, "cut at {cut}");
    }
}
