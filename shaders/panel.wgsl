// A panel in the world: a quad showing its pre-rendered texture (background, buttons, text).

struct Camera {
    view_proj: mat4x4<f32>,
    eye: vec4<f32>,
};

struct Draw {
    // Unit quad (-0.5..0.5) → world, panel size folded in.
    model: mat4x4<f32>,
    normal: mat4x4<f32>,
};

// Both eyes' cameras. Single-view pipelines read [0] (the pass's dynamic offset picks the eye);
// multiview pipelines are built from this source with the view index spliced in (see
// render::shader_source).
@group(0) @binding(0) var<uniform> cameras: array<Camera, 2>;
@group(1) @binding(0) var<uniform> draw: Draw;
@group(2) @binding(0) var panel_tex: texture_2d<f32>;
@group(2) @binding(1) var panel_sampler: sampler;

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32/*VIEW_INDEX_PARAM*/) -> VertexOut {
    let camera = cameras[/*VIEW_INDEX*/0u];
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(0.0, 0.0), vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 1.0), vec2<f32>(1.0, 0.0),
    );
    let c = corners[index];
    var out: VertexOut;
    let local = vec4<f32>(c.x - 0.5, 0.5 - c.y, 0.0, 1.0);
    out.clip = camera.view_proj * draw.model * local;
    out.uv = c;
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let c = textureSample(panel_tex, panel_sampler, in.uv);
    if (c.a < 0.01) {
        discard;
    }
    return c;
}
