//! Integration tests: the real `hologuide` binary, real files, a real OpenXR runtime.
//! One test binary keeps link time down.

mod anchor_pose;
mod cache;
mod camera;
mod demo;
mod guide_validate;
mod keyring;
mod live_app;
mod monado_remote;
mod offline;
mod openxr_frames;
mod openxr_lifecycle;
mod openxr_runtime;
mod parser_limits;
mod pictures;
mod qr;
mod render_golden;
mod render_robustness;
mod service;
mod shells;
mod sim;
mod support;
mod virtual_camera;
mod window;
