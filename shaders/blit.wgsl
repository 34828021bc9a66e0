// Copies the offscreen frame to the window's surface texture, pixel for pixel (same size).
// The window backend draws offscreen so that a frame can also be read back (--capture-frame);
// the surface may be BGRA, which a texture copy cannot convert to, so this is a draw.

@group(0) @binding(0) var frame: texture_2d<f32>;

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> @builtin(position) vec4<f32> {
    // One triangle covering the screen: (-1,-1), (3,-1), (-1,3).
    let x = f32((index << 1u) & 2u) * 2.0 - 1.0;
    let y = f32(index & 2u) * 2.0 - 1.0;
    return vec4<f32>(x, y, 0.0, 1.0);
}

@fragment
fn fs_main(@builtin(position) position: vec4<f32>) -> @location(0) vec4<f32> {
    return textureLoad(frame, vec2<i32>(position.xy), 0);
}
