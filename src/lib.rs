//! hologuide: a mixed-reality guide runtime.
//!
//! Pure core (`guide`, `app`) and thin edges (`cli`, `platform`); see `ARCHITECTURE.md` in the
//! design notes for the module map.

pub mod app;
pub mod cache;
pub mod camera;
pub mod client;
pub mod clock;
pub mod content_address;
pub mod demo;
pub mod guide;
pub mod model;
pub mod net;
pub mod platform;
pub mod qr;
pub mod render;
pub mod scene;
pub mod service;
pub mod sync;
pub mod xr;
