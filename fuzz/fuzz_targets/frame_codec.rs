//! Bytes into the desk frame codec (`protocol::codec`): bincode frames both ways
//! (`ClientFrame` is what the relay decodes, `ServerFrame` what the desk decodes) and the
//! `"type"`-tagged JSON frames. The first byte picks the decoder. What decodes must
//! re-encode, and decode again to the same encoding (compared as bytes, so a NaN cannot
//! make equal values look different).

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::codec::{decode_binary, decode_json_frame, encode_binary, encode_json_frame};
use protocol::{ClientFrame, ServerFrame};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn binary<T: Serialize + DeserializeOwned>(bytes: &[u8]) {
    let Ok(value) = decode_binary::<T>(bytes) else {
        return;
    };
    let once = encode_binary(&value).expect("a decoded frame encodes");
    let again: T = decode_binary(&once).expect("an encoded frame decodes");
    assert_eq!(encode_binary(&again).expect("encodes"), once);
}

fn json<T: Serialize + DeserializeOwned>(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(value) = decode_json_frame::<T>(text) else {
        return;
    };
    let once = encode_json_frame(&value).expect("a decoded frame encodes");
    let again: T = decode_json_frame(&once).expect("an encoded frame decodes");
    assert_eq!(encode_json_frame(&again).expect("encodes"), once);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => binary::<ClientFrame>(rest),
        1 => binary::<ServerFrame>(rest),
        2 => json::<ClientFrame>(rest),
        _ => json::<ServerFrame>(rest),
    }
});
