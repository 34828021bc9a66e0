// Rounded rectangles drawn into a panel's texture (backgrounds, buttons), in pixels.

struct Screen {
    size: vec4<f32>,
};

@group(0) @binding(0) var<uniform> screen: Screen;

struct RectIn {
    // x, y, width, height in pixels from the top-left
    @location(0) rect: vec4<f32>,
    @location(1) colour: vec4<f32>,
    // corner radius, border width (0: filled), unused, unused
    @location(2) style: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) half_size: vec2<f32>,
    @location(2) colour: vec4<f32>,
    @location(3) style: vec4<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32, r: RectIn) -> VertexOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 1.0), vec2<f32>(1.0, 0.0),
    );
    let c = corners[index];
    let px = r.rect.xy + c * r.rect.zw;
    var out: VertexOut;
    out.clip = vec4<f32>(px.x / screen.size.x * 2.0 - 1.0, 1.0 - px.y / screen.size.y * 2.0, 0.0, 1.0);
    out.half_size = r.rect.zw * 0.5;
    out.local = (c - 0.5) * r.rect.zw;
    out.colour = r.colour;
    out.style = r.style;
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let radius = in.style.x;
    let q = abs(in.local) - in.half_size + vec2<f32>(radius);
    let d = length(max(q, vec2<f32>(0.0))) + min(max(q.x, q.y), 0.0) - radius;
    var coverage = clamp(0.5 - d, 0.0, 1.0);
    let border = in.style.y;
    if (border > 0.0) {
        coverage = coverage * clamp(d + border + 0.5, 0.0, 1.0);
    }
    return vec4<f32>(in.colour.rgb, in.colour.a * coverage);
}
