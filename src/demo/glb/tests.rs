use super::*;

fn samples() -> Vec<(&'static str, MeshBuilder)> {
    let mm = |points: &[(i16, i16)]| -> Vec<Vec2> {
        points
            .iter()
            .map(|&(r, h)| Vec2::new(r.into(), h.into()) / 1000.0)
            .collect()
    };
    let bowl = mm(&[(0, 0), (30, 0), (40, 5), (45, 20), (45, 100), (0, 100)]);
    let annulus = mm(&[(10, 0), (30, 0), (30, 10), (10, 10), (10, 0)]);
    let arrow_head = mm(&[(0, 0), (20, 50), (0, 50)]);
    let star: Vec<Vec2> = (0..24)
        .map(|i| {
            let (s, c) = sin_cos_turns(f64::from(i) / 24.0);
            Vec2::new(c as f32, -s as f32) * if i % 2 == 0 { 0.035 } else { 0.03 }
        })
        .collect();
    let mirror = Mat4::from_scale(Vec3::new(-1.0, 1.0, 2.0));
    let box_ = MeshBuilder::cuboid(Vec3::new(-0.1, 0.2, -0.3), Vec3::splat(0.4));
    let cylinder = MeshBuilder::cylinder(0.05, 0.2, 24);
    let torus = MeshBuilder::torus(0.05, 0.01, 32, 12);
    vec![
        ("box", box_),
        (
            "cylinder",
            cylinder.placed(Vec3::X, rotation(Vec3::Z, -0.25)),
        ),
        ("cone", MeshBuilder::cone(0.02, 0.05, 16)),
        ("downward cone", MeshBuilder::lathe(&arrow_head, 16)),
        ("bowl", MeshBuilder::lathe(&bowl, 32)),
        ("annulus", MeshBuilder::lathe(&annulus, 32)),
        ("star prism", MeshBuilder::prism(&star, 0.1)),
        ("torus", torus.clone()),
        ("mirrored torus", torus.transformed(mirror)),
    ]
}

#[test]
fn sin_cos_turns_agrees_with_the_platform_and_is_exact_at_quarter_turns() {
    for i in -400..=400 {
        let turns = f64::from(i) / 97.0;
        let (s, c) = sin_cos_turns(turns);
        let (es, ec) = (turns * std::f64::consts::TAU).sin_cos();
        assert!(
            (s - es).abs().max((c - ec).abs()) < 1e-12,
            "at {turns} turns"
        );
    }
    assert_eq!(sin_cos_turns(0.25), (1.0, -0.0));
    assert_eq!(sin_cos_turns(-0.5), (-0.0, -1.0));
}

#[test]
fn primitives_are_watertight_and_wind_towards_their_normals() {
    for (name, mesh) in samples() {
        let (p, n) = (&mesh.positions, &mesh.normals);
        // Each directed edge, by exact position, must meet its reverse exactly once.
        let mut edges = BTreeMap::new();
        for t in mesh.indices.chunks_exact(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| i as usize);
            let face = (p[b] - p[a]).cross(p[c] - p[a]);
            assert!(face.length() > 1e-9, "{name}: degenerate triangle {t:?}");
            for v in [a, b, c] {
                assert!(face.dot(n[v]) > 0.0, "{name}: {t:?} faces away from {v}");
                assert!((n[v].length() - 1.0).abs() < 1e-5, "{name}: normal {v}");
            }
            for (from, to) in [(a, b), (b, c), (c, a)] {
                let key = [p[from], p[to]].map(|v| v.to_array().map(f32::to_bits));
                *edges.entry(key).or_insert(0) += 1;
            }
        }
        for (&[from, to], &count) in &edges {
            let back = edges.get(&[to, from]);
            assert_eq!((count, back), (1, Some(&1)), "{name}: open edge");
        }
    }
}

#[test]
fn smooth_surfaces_share_vertices_and_corners_stay_hard() {
    let cylinder = MeshBuilder::cylinder(1.0, 1.0, 8);
    // One centre vertex per cap, and at each rim a ring for the cap and one for the side.
    assert_eq!(cylinder.vertex_count(), 2 + 4 * 8);
    assert_eq!(cylinder.triangle_count(), 4 * 8);
    let torus = MeshBuilder::torus(1.0, 0.25, 8, 6);
    assert_eq!(torus.vertex_count(), 8 * 6);
    for (&p, &n) in torus.positions.iter().zip(&torus.normals) {
        assert!((p - Vec3::new(p.x, 0.0, p.z).normalize() - n * 0.25).length() < 1e-6);
    }
}

fn sample_document(big: bool) -> Vec<u8> {
    let mut doc = GlbDocument::new();
    let paint = doc.add_material(Material::new("paint", [0.1, 0.2, 0.3], 0.7));
    let mut glow = Material::new("glow", [1.0, 0.4, 0.0], 0.3);
    (glow.emissive, glow.blend, glow.double_sided) = (Some([1.0, 0.4, 0.0]), true, true);
    let glow = doc.add_material(glow);
    let body = match big {
        true => MeshBuilder::torus(1.0, 0.1, 400, 200),
        false => MeshBuilder::cylinder(0.1, 0.3, 5),
    };
    let cone = MeshBuilder::cone(0.1, 0.1, 3);
    let parts = vec![(paint, body), (glow, MeshBuilder::new()), (glow, cone)];
    let mesh = doc.add_mesh("part", parts);
    let mut moving = Node::new("moving");
    (moving.mesh, moving.translation) = (Some(mesh), Vec3::X);
    let child = doc.add_node(moving);
    let mut root = Node::new("root");
    root.children.push(child);
    doc.add_node(root);
    let times = [0.0, 0.5, 1.0];
    let up = Keyframes::Translation(times.map(|t| (t, Vec3::Y * t)).to_vec());
    let turn = times.map(|t| (t, rotation(Vec3::Y, f64::from(t) * 0.25)));
    let turn = Keyframes::Rotation(turn.to_vec());
    doc.add_animation("move", vec![(child, up), (child, turn)]);
    doc.to_glb()
}

#[test]
fn glb_container_has_correct_lengths_padding_and_alignment() {
    let glb = sample_document(false);
    let word = |at: usize| u32::from_le_bytes([0, 1, 2, 3].map(|i| glb[at + i])) as usize;
    assert_eq!((&glb[..4], word(4), word(8)), (&b"glTF"[..], 2, glb.len()));
    let json_len = word(12);
    assert_eq!((word(16), json_len % 4), (0x4E4F_534A, 0));
    let text = std::str::from_utf8(&glb[20..20 + json_len]).expect("UTF-8 JSON");
    let json = text.trim_end();
    assert!(json.ends_with('}') && text[json.len()..].bytes().all(|b| b == b' '));
    let bin_at = 20 + json_len;
    let bin_len = word(bin_at);
    assert_eq!((word(bin_at + 4), bin_len % 4), (0x004E_4942, 0));
    assert_eq!(bin_at + 8 + bin_len, glb.len());

    let value: serde_json::Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(value["asset"]["generator"], GENERATOR);
    assert_eq!(value["buffers"][0]["byteLength"], bin_len);
    assert_eq!(value["scenes"][0]["nodes"], json!([1]));
    let paint = &value["materials"][0]["pbrMetallicRoughness"];
    assert_eq!(paint["roughnessFactor"], json!(0.7), "short decimals");
    for view in value["bufferViews"].as_array().expect("views") {
        assert_eq!(view["byteOffset"].as_u64().map(|o| o % 4), Some(0));
    }
}

#[test]
fn written_documents_load_in_the_gltf_crate_with_fitting_index_widths() {
    for big in [false, true] {
        let glb = sample_document(big);
        let (document, buffers, _) = gltf::import_slice(&glb).expect("valid glTF");
        let mesh = document.meshes().next().expect("mesh");
        assert_eq!(mesh.primitives().count(), 2);
        let primitive = mesh.primitives().next().expect("primitive");
        let max_y = if big { 0.1 } else { 0.3 };
        assert!((primitive.bounding_box().max[1] - max_y).abs() < 1e-6);
        let reader = primitive.reader(|b| Some(&buffers[b.index()]));
        let count = reader.read_positions().expect("positions").count();
        let indices = reader.read_indices().expect("indices");
        let wide = matches!(indices, gltf::mesh::util::ReadIndices::U32(_));
        assert_eq!(wide, big);
        assert!(indices.into_u32().all(|i| (i as usize) < count));
        let animation = document.animations().next().expect("animation");
        assert_eq!(animation.name(), Some("move"));
        assert_eq!(animation.channels().count(), 2);
    }
    assert_eq!(sample_document(false), sample_document(false), "repeatable");
}
