use super::*;
use glam::{Mat4, Quat};
use gltf::animation::{Property, util::ReadOutputs};

fn import(file_name: &str) -> (gltf::Document, Vec<gltf::buffer::Data>) {
    let model = demo_models().into_iter().find(|m| m.file_name == file_name);
    let (document, buffers, _) = gltf::import_slice(model.expect("model").glb).expect("glTF");
    (document, buffers)
}

fn extent(points: impl IntoIterator<Item = Vec3>) -> (Vec3, Vec3) {
    let empty = (Vec3::INFINITY, Vec3::NEG_INFINITY);
    points
        .into_iter()
        .fold(empty, |(lo, hi), p| (lo.min(p), hi.max(p)))
}

/// Rest-pose bounds of the whole model, or of its node named `only`, moved by `by`.
fn bounds(file_name: &str, only: Option<&str>, by: [f32; 3]) -> (Vec3, Vec3) {
    let (document, buffers) = import(file_name);
    let scene = document.default_scene().expect("a default scene");
    let mut stack: Vec<_> = scene.nodes().map(|node| (node, Mat4::IDENTITY)).collect();
    let mut points = Vec::new();
    while let Some((node, parent)) = stack.pop() {
        let world = parent * Mat4::from_cols_array_2d(&node.transform().matrix());
        stack.extend(node.children().map(|child| (child, world)));
        let wanted = only.is_none_or(|only| node.name() == Some(only));
        for primitive in node
            .mesh()
            .filter(|_| wanted)
            .iter()
            .flat_map(|m| m.primitives())
        {
            let reader = primitive.reader(|b| Some(&buffers[b.index()]));
            let read = reader.read_positions().expect("positions");
            points.extend(read.map(|p| world.transform_point3(p.into()) + Vec3::from(by)));
        }
    }
    extent(points)
}

fn near((a, b): (Vec3, Vec3), (c, d): (Vec3, Vec3), tolerance: f32) -> bool {
    a.abs_diff_eq(c, tolerance) && b.abs_diff_eq(d, tolerance)
}

/// (seconds, value) keyframes of the channel on `property` in `file_name`'s only animation.
fn keyframes(file_name: &str, property: Property) -> Vec<(f32, Vec<f32>)> {
    let (document, buffers) = import(file_name);
    let animation = document.animations().next().expect("an animation");
    let channel = animation
        .channels()
        .find(|c| c.target().property() == property);
    let reader = channel
        .expect("channel")
        .reader(|b| Some(&buffers[b.index()]));
    let values: Vec<Vec<f32>> = match reader.read_outputs().expect("outputs") {
        ReadOutputs::Translations(values) => values.map(|v| v.to_vec()).collect(),
        ReadOutputs::Rotations(values) => values.into_f32().map(|v| v.to_vec()).collect(),
        _ => Vec::new(),
    };
    reader.read_inputs().expect("inputs").zip(values).collect()
}

#[test]
fn generated_models_are_valid_gltf_binaries() {
    let models = demo_models();
    let names: Vec<_> = models
        .iter()
        .map(|m| m.file_name.trim_end_matches(".glb"))
        .collect();
    let expected = "pump filter_cartridge housing_cap o_ring arrow strap_wrench valve";
    assert_eq!(names.join(" "), expected);
    for DemoModel { file_name, glb, .. } in &models {
        assert!(glb.len() < 300_000, "{file_name}: {} bytes", glb.len());
        let gltf = gltf::Gltf::from_slice(glb).expect("parses");
        let generator = gltf.document.as_json().asset.generator.as_deref();
        assert_eq!(generator, Some("hologuide demo generator"));
        let (document, buffers, _) = gltf::import_slice(glb).expect("imports");
        let mut triangles = 0;
        for primitive in document.meshes().flat_map(|mesh| mesh.primitives()) {
            let reader = primitive.reader(|b| Some(&buffers[b.index()]));
            let points: Vec<Vec3> = reader
                .read_positions()
                .expect("POSITION")
                .map(Vec3::from)
                .collect();
            let accessor = primitive.get(&gltf::Semantic::Positions).expect("POSITION");
            let bound =
                |v: Option<_>| serde_json::from_value::<Vec3>(v.expect("bound")).expect("xyz");
            let bounds = (bound(accessor.min()), bound(accessor.max()));
            assert_eq!(
                bounds,
                extent(points.iter().copied()),
                "{file_name}: exact min and max"
            );
            assert_eq!(reader.read_normals().expect("NORMAL").count(), points.len());
            let indices: Vec<u32> = reader.read_indices().expect("indices").into_u32().collect();
            assert!(
                indices.iter().all(|&i| (i as usize) < points.len()),
                "{file_name}: indices"
            );
            triangles += indices.len() / 3;
        }
        assert!(
            (100..10_000).contains(&triangles),
            "{file_name}: {triangles} triangles"
        );
    }
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(demo_models(), demo_models());
}

#[test]
fn animated_models_carry_their_named_animations() {
    let expected = [
        ("pump.glb", ""),
        ("filter_cartridge.glb", "slide_out"),
        ("housing_cap.glb", "unscrew"),
        ("o_ring.glb", ""),
        ("arrow.glb", "bob"),
        ("strap_wrench.glb", ""),
        ("valve.glb", "close"),
    ];
    for (file_name, expected) in expected {
        let (document, _) = import(file_name);
        let names: Vec<_> = document
            .animations()
            .map(|a| a.name().unwrap_or("?"))
            .collect();
        assert_eq!(names.join(" "), expected, "{file_name}");
    }
}

#[test]
fn animations_show_the_motions_the_guide_describes() {
    let heights = |file_name| -> Vec<(f32, f32)> {
        let keys = keyframes(file_name, Property::Translation).into_iter();
        keys.map(|(t, v)| (t, v[1])).collect()
    };
    let slide = heights("filter_cartridge.glb");
    assert!(slide.contains(&(1.5, 0.25)) && slide.iter().all(|k| (0.0..=0.25).contains(&k.1)));
    assert_eq!(
        (slide[0].1, slide[slide.len() - 1].1),
        (0.0, 0.0),
        "it loops"
    );
    let bob = heights("arrow.glb");
    assert!(bob.contains(&(0.6, 0.03)) && bob.iter().all(|k| (0.0..=0.03).contains(&k.1)));
    assert_eq!(heights("housing_cap.glb").last(), Some(&(3.5, 0.012)));

    let rotations = |file_name| -> Vec<Quat> {
        let keys = keyframes(file_name, Property::Rotation).into_iter();
        keys.map(|(_, v)| Quat::from_slice(&v)).collect()
    };
    let turns = rotations("housing_cap.glb");
    // Players interpolate the short way, so keyframes must never be half a turn apart.
    assert!(
        turns.windows(2).all(|w| w[0].dot(w[1]) > 0.7),
        "small steps"
    );
    let degrees = |w: &[Quat]| (w[0].inverse() * w[1]).to_axis_angle().1.to_degrees();
    let travelled: f32 = turns.windows(2).map(degrees).sum();
    assert!(
        (travelled - 1080.0).abs() < 0.1,
        "three turns, not {travelled}°"
    );
    let closed = rotations("valve.glb")[rotations("valve.glb").len() - 1];
    assert!(
        (closed * Vec3::NEG_Z).abs_diff_eq(Vec3::X, 1e-6),
        "the lever turns −Z to +X"
    );
}

#[test]
fn models_have_their_documented_real_world_sizes() {
    let sizes = [
        ("pump.glb", [-0.3, 0.0, -0.23], [0.3, 0.5, 0.14]),
        (
            "filter_cartridge.glb",
            [-0.035, 0.0, -0.035],
            [0.035, 0.211, 0.035],
        ),
        (
            "housing_cap.glb",
            [-0.061, 0.0, -0.061],
            [0.061, 0.066, 0.061],
        ),
        (
            "o_ring.glb",
            [-0.0548, -0.0018, -0.0548],
            [0.0548, 0.0018, 0.0548],
        ),
        ("arrow.glb", [-0.022, 0.0, -0.022], [0.022, 0.15, 0.022]),
        (
            "strap_wrench.glb",
            [-0.066, -0.02, -0.066],
            [0.234, 0.02, 0.066],
        ),
        ("valve.glb", [-0.034, -0.034, -0.11], [0.034, 0.062, 0.08]),
    ];
    for (file_name, min, max) in sizes {
        let found = bounds(file_name, None, [0.0; 3]);
        assert!(
            near(found, (min.into(), max.into()), 0.001),
            "{file_name}: {found:?}"
        );
    }
}

#[test]
fn seat_constants_place_the_parts_on_the_pump() {
    let on_pump = |node| bounds("pump.glb", Some(node), [0.0; 3]);
    let cap = on_pump("housing_cap");
    assert!(near(cap, bounds("housing_cap.glb", None, CAP_SEAT), 1e-6));
    let top = Vec3::new(CAP_SEAT[0], cap.1.y, 0.0);
    assert!(
        top.abs_diff_eq(FILTER_AXIS.into(), 1e-6),
        "{top} is the cap's top centre"
    );
    let lever = bounds("valve.glb", Some("lever"), VALVE_SEAT);
    assert!(near(on_pump("valve_lever"), lever, 1e-6));
    // The cartridge stands in the bowl under the cap; the O-ring lies on the bowl's rim.
    let bowl = on_pump("filter_housing");
    let cartridge = bounds("filter_cartridge.glb", None, CARTRIDGE_SEAT);
    assert!(bowl.0.y < cartridge.0.y && cartridge.1.y < CAP_SEAT[1]);
    assert_eq!(bowl.1.y, CAP_SEAT[1]);
    let ring = bounds("o_ring.glb", None, O_RING_SEAT);
    assert!((ring.0.y - CAP_SEAT[1]).abs() < 1e-6 && ring.1.x < bowl.1.x);
    let strap = bounds("strap_wrench.glb", Some("strap_wrench"), STRAP_WRENCH_SEAT);
    assert!(
        strap.0.y > CAP_SEAT[1] && strap.1.y < FILTER_AXIS[1],
        "the strap grips the cap"
    );
}
