// glTF 2.0 metallic-roughness shading with a fixed three-light rig and a sky/ground ambient.
// Output is linear; the colour target is sRGB, so the hardware encodes it.

struct Camera {
    view_proj: mat4x4<f32>,
    eye: vec4<f32>,
};

struct Draw {
    model: mat4x4<f32>,
    // Inverse-transpose of the model matrix's 3×3 (in a mat4 for alignment).
    normal: mat4x4<f32>,
    // x: first joint matrix in `joints`, y: 1 when skinned (then `model` is not used)
    skin: vec4<u32>,
};

struct Material {
    base_colour: vec4<f32>,
    // rgb emissive, a alpha cutoff (negative: no alpha test)
    emissive_cutoff: vec4<f32>,
    // metallic, roughness, normal scale, occlusion strength
    params: vec4<f32>,
    // texcoord set of: base colour, metallic-roughness, normal, occlusion
    uv_sets: vec4<u32>,
    // emissive texcoord set, unlit (1), alpha blend (1), unused
    flags: vec4<u32>,
    // KHR_texture_transform: two rows (a, b, offset) each for base colour, metallic-roughness,
    // emissive, normal, occlusion
    uv_transforms: array<vec4<f32>, 10>,
};

// Both eyes' cameras. Single-view pipelines read [0] (the pass's dynamic offset picks the eye);
// multiview pipelines are built from this source with the view index spliced in (see
// render::shader_source).
@group(0) @binding(0) var<uniform> cameras: array<Camera, 2>;
@group(1) @binding(0) var<uniform> draw: Draw;
// Joint matrices (joint world × inverse bind) of this frame's skinned draws.
@group(1) @binding(1) var<storage, read> joints: array<mat4x4<f32>>;
@group(2) @binding(0) var<uniform> material: Material;
@group(2) @binding(1) var base_colour_tex: texture_2d<f32>;
@group(2) @binding(2) var metallic_roughness_tex: texture_2d<f32>;
@group(2) @binding(3) var normal_tex: texture_2d<f32>;
@group(2) @binding(4) var occlusion_tex: texture_2d<f32>;
@group(2) @binding(5) var emissive_tex: texture_2d<f32>;
@group(2) @binding(6) var material_sampler: sampler;

struct VertexIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) tangent: vec4<f32>,
    @location(3) uv0: vec2<f32>,
    @location(4) uv1: vec2<f32>,
    @location(5) colour: vec4<f32>,
    @location(6) joint_ids: vec4<u32>,
    @location(7) weights: vec4<f32>,
};

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) tangent: vec4<f32>,
    @location(3) uv0: vec2<f32>,
    @location(4) uv1: vec2<f32>,
    @location(5) colour: vec4<f32>,
    @location(6) eye: vec3<f32>,
};

@vertex
fn vs_main(v: VertexIn/*VIEW_INDEX_PARAM*/) -> VertexOut {
    let camera = cameras[/*VIEW_INDEX*/0u];
    var out: VertexOut;
    out.eye = camera.eye.xyz;
    var model = draw.model;
    var n = mat3x3<f32>(draw.normal[0].xyz, draw.normal[1].xyz, draw.normal[2].xyz);
    if (draw.skin.y == 1u) {
        let base = draw.skin.x;
        model = joints[base + v.joint_ids.x] * v.weights.x
            + joints[base + v.joint_ids.y] * v.weights.y
            + joints[base + v.joint_ids.z] * v.weights.z
            + joints[base + v.joint_ids.w] * v.weights.w;
        // Joint transforms are near-rigid: their 3×3 serves for normals.
        n = mat3x3<f32>(model[0].xyz, model[1].xyz, model[2].xyz);
    }
    let world = model * vec4<f32>(v.position, 1.0);
    out.clip = camera.view_proj * world;
    out.world = world.xyz;
    out.normal = normalize(n * v.normal);
    let m = mat3x3<f32>(model[0].xyz, model[1].xyz, model[2].xyz);
    out.tangent = vec4<f32>(m * v.tangent.xyz, v.tangent.w);
    out.uv0 = v.uv0;
    out.uv1 = v.uv1;
    out.colour = v.colour;
    return out;
}

const PI: f32 = 3.14159265;

fn pick_uv(uv_set: u32, in: VertexOut) -> vec2<f32> {
    return select(in.uv0, in.uv1, uv_set == 1u);
}

fn transformed_uv(uv_set: u32, in: VertexOut, row: u32) -> vec2<f32> {
    let uv = vec3<f32>(pick_uv(uv_set, in), 1.0);
    return vec2<f32>(dot(material.uv_transforms[row].xyz, uv), dot(material.uv_transforms[row + 1u].xyz, uv));
}

fn ggx(n_dot_h: f32, a: f32) -> f32 {
    let a2 = a * a;
    let d = n_dot_h * n_dot_h * (a2 - 1.0) + 1.0;
    return a2 / (PI * d * d);
}

fn smith(n_dot_v: f32, n_dot_l: f32, a: f32) -> f32 {
    let k = a * 0.5;
    let gv = n_dot_v / (n_dot_v * (1.0 - k) + k);
    let gl = n_dot_l / (n_dot_l * (1.0 - k) + k);
    return gv * gl;
}

fn fresnel(f0: vec3<f32>, v_dot_h: f32) -> vec3<f32> {
    return f0 + (vec3<f32>(1.0) - f0) * pow(1.0 - v_dot_h, 5.0);
}

// Khronos PBR Neutral tone mapping: keeps base colours true up to ~0.8, rolls off highlights.
fn tone_map(c: vec3<f32>) -> vec3<f32> {
    let start = 0.76;
    let desaturation = 0.15;
    let x = min(c.r, min(c.g, c.b));
    let offset = select(0.04, x - 6.25 * x * x, x < 0.08);
    var colour = c - offset;
    let peak = max(colour.r, max(colour.g, colour.b));
    if (peak < start) {
        return colour;
    }
    let d = 1.0 - start;
    let new_peak = 1.0 - d * d / (peak + d - start);
    colour = colour * (new_peak / peak);
    let g = 1.0 - 1.0 / (desaturation * (peak - new_peak) + 1.0);
    return mix(colour, vec3<f32>(new_peak), g);
}

fn light(n: vec3<f32>, v: vec3<f32>, l: vec3<f32>, radiance: vec3<f32>, albedo: vec3<f32>,
         f0: vec3<f32>, metallic: f32, a: f32) -> vec3<f32> {
    let h = normalize(v + l);
    let n_dot_l = max(dot(n, l), 0.0);
    let n_dot_v = max(dot(n, v), 1e-4);
    let f = fresnel(f0, max(dot(v, h), 0.0));
    let spec = ggx(max(dot(n, h), 0.0), a) * smith(n_dot_v, n_dot_l, a) * f / (4.0 * n_dot_v * n_dot_l + 1e-4);
    let kd = (vec3<f32>(1.0) - f) * (1.0 - metallic);
    return (kd * albedo / PI + spec) * radiance * n_dot_l;
}

@fragment
fn fs_main(in: VertexOut, @builtin(front_facing) front: bool) -> @location(0) vec4<f32> {
    var base = material.base_colour * in.colour
        * textureSample(base_colour_tex, material_sampler, transformed_uv(material.uv_sets.x, in, 0u));
    let cutoff = material.emissive_cutoff.w;
    if (cutoff >= 0.0 && base.a < cutoff) {
        discard;
    }
    if (material.flags.z == 0u) {
        base.a = 1.0;
    }
    if (material.flags.y == 1u) {
        return vec4<f32>(tone_map(base.rgb), base.a);
    }
    let mr = textureSample(metallic_roughness_tex, material_sampler, transformed_uv(material.uv_sets.y, in, 2u));
    let metallic = clamp(material.params.x * mr.b, 0.0, 1.0);
    let roughness = clamp(material.params.y * mr.g, 0.045, 1.0);
    let a = roughness * roughness;

    var n = normalize(in.normal);
    if (!front) {
        n = -n;
    }
    let t_len = length(in.tangent.xyz);
    if (t_len > 1e-6) {
        let t = normalize(in.tangent.xyz - n * dot(n, in.tangent.xyz));
        let b = cross(n, t) * in.tangent.w;
        var tn = textureSample(normal_tex, material_sampler, transformed_uv(material.uv_sets.z, in, 6u)).xyz * 2.0 - 1.0;
        tn = vec3<f32>(tn.xy * material.params.z, tn.z);
        n = normalize(mat3x3<f32>(t, b, n) * tn);
    }
    let v = normalize(in.eye - in.world);
    let albedo = base.rgb * (1.0 - metallic);
    let f0 = mix(vec3<f32>(0.04), base.rgb, metallic);

    // Light rig: warm key from upper left front, cool fill from the right, rim from behind.
    var colour = light(n, v, normalize(vec3<f32>(-0.5, 0.8, 0.6)), vec3<f32>(2.6, 2.45, 2.25), base.rgb, f0, metallic, a);
    colour += light(n, v, normalize(vec3<f32>(0.8, 0.3, 0.4)), vec3<f32>(0.75, 0.85, 1.0), base.rgb, f0, metallic, a);
    colour += light(n, v, normalize(vec3<f32>(0.1, 0.5, -0.9)), vec3<f32>(1.0, 1.0, 1.0), base.rgb, f0, metallic, a);

    // Ambient: sky above, floor bounce below; a rough, view-independent specular term so metals
    // are not black where no light hits them.
    let up = n.y * 0.5 + 0.5;
    let ambient = mix(vec3<f32>(0.16, 0.15, 0.14), vec3<f32>(0.42, 0.46, 0.52), up);
    let r = reflect(-v, n);
    let env = mix(vec3<f32>(0.12, 0.11, 0.10), vec3<f32>(0.55, 0.60, 0.68), r.y * 0.5 + 0.5);
    let n_dot_v = max(dot(n, v), 1e-4);
    let f_amb = f0 + (max(vec3<f32>(1.0 - roughness), f0) - f0) * pow(1.0 - n_dot_v, 5.0);
    let occlusion = mix(1.0, textureSample(occlusion_tex, material_sampler, transformed_uv(material.uv_sets.w, in, 8u)).r, material.params.w);
    colour += (albedo * ambient + f_amb * env * (1.0 - roughness * 0.7)) * occlusion;

    let emissive = material.emissive_cutoff.rgb
        * textureSample(emissive_tex, material_sampler, transformed_uv(material.flags.x, in, 4u)).rgb;
    colour += emissive;
    return vec4<f32>(tone_map(colour), base.a);
}
