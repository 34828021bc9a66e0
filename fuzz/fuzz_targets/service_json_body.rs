//! The service's JSON request bodies, read through its `ApiJson` extractor exactly as its routes
//! read them. The first byte picks the route's body type.
#![no_main]

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use hologuide::service::http::{
    ApiJson, Member, NewUserRequest, Refresh, ResultBatch, SignIn, Tags, TelemetryBatch,
};
use hologuide::service::model::{Principal, ProfileSpec};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn read<T: DeserializeOwned>(body: &[u8]) {
    let request = Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a fixed request builds");
    let _ = pollster::block_on(ApiJson::<T>::from_request(request, &()));
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&which, body)) = bytes.split_first() else {
        return;
    };
    match which % 9 {
        0 => read::<SignIn>(body),
        1 => read::<Refresh>(body),
        2 => read::<NewUserRequest>(body),
        3 => read::<Member>(body),
        4 => read::<Tags>(body),
        5 => read::<TelemetryBatch>(body),
        6 => read::<ResultBatch>(body),
        7 => read::<ProfileSpec>(body),
        _ => read::<Principal>(body),
    }
});
