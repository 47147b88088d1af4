//! Fuzz the request path: frame size check, header peek, header and body decoding of every
//! served API. Must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 4 {
        let prefix = [data[0], data[1], data[2], data[3]];
        let _ = skua::protocol::frame_size(prefix, 1 << 20);
        let _ = skua::api::decode_frame(&data[4..]);
    }
    let _ = skua::api::decode_frame(data);
});
