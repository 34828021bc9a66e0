//! The demo guide's holograms, "Replace the filter cartridge on a CP-200 coolant pump", generated
//! as GLB so that the repository ships no third-party art.
//!
//! Every model is in metres with +Y up and its front towards +Z (glTF conventions). The pump's
//! origin is the centre of the underside of its base plate; the `*_SEAT` constants give, in that
//! frame, where the origin of each other model goes when it is shown in place on the pump.
//! Geometry is written in whole millimetres, as on a workshop drawing.

use glam::{Vec2, Vec3};

use super::glb::{
    GlbDocument, Keyframes, Material, MaterialId, MeshBuilder, MeshId, Node, NodeId, rotation,
    sin_cos_turns,
};

const HOUSING_X: i32 = 220;
/// Height of the motor shaft, the volute's axis and the suction pipe.
const SHAFT_Y: i32 = 140;
/// Height of the housing bowl's rim, where the cap sits.
const RIM_Y: i32 = 360;
const CAP_HEIGHT: i32 = 66;
/// The ball valve on the inlet pipe that feeds the housing from behind.
const VALVE: [i32; 3] = [HOUSING_X, 280, -120];
/// Height of the valve lever's pivot above the pipe axis.
const LEVER_PIVOT: i32 = 52;
const O_RING_MAJOR: f32 = 0.053;
/// Half the common 3.53 mm cord.
const O_RING_MINOR: f32 = 0.001765;

/// Top centre of the filter housing's cap, on the housing's vertical axis.
pub const FILTER_AXIS: [f32; 3] = metres([HOUSING_X, RIM_Y + CAP_HEIGHT, 0]);
/// Where `housing_cap.glb`'s origin (the cap's bottom centre) is when the cap is screwed on.
pub const CAP_SEAT: [f32; 3] = metres([HOUSING_X, RIM_Y, 0]);
/// Where `filter_cartridge.glb`'s origin (its bottom centre) is when the cartridge is installed.
pub const CARTRIDGE_SEAT: [f32; 3] = metres([HOUSING_X, 140, 0]);
/// Where `o_ring.glb`'s origin (its centre) is when the ring lies on the bowl's rim.
pub const O_RING_SEAT: [f32; 3] = [CAP_SEAT[0], CAP_SEAT[1] + O_RING_MINOR, 0.0];
/// Where `valve.glb`'s origin (the pipe axis under the stem) is on the inlet pipe.
pub const VALVE_SEAT: [f32; 3] = metres(VALVE);
/// Where `strap_wrench.glb`'s origin (the strap loop's centre) is when it grips the cap.
pub const STRAP_WRENCH_SEAT: [f32; 3] = metres([HOUSING_X, RIM_Y + 26, 0]);

/// One generated hologram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoModel {
    pub file_name: &'static str,
    pub title: &'static str,
    pub glb: Vec<u8>,
}

/// All holograms of the demo guide, byte for byte the same on every call.
pub fn demo_models() -> Vec<DemoModel> {
    let models: [fn() -> DemoModel; 7] = [
        pump,
        filter_cartridge,
        housing_cap,
        o_ring,
        arrow,
        strap_wrench,
        valve,
    ];
    models.iter().map(|model| model()).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    PumpBlue,
    MotorGrey,
    BaseGrey,
    Steel,
    CapGrey,
    FilterMedia,
    EndCapGrey,
    Brass,
    LeverRed,
    Amber,
    Rubber,
    Strap,
    GripOrange,
    DialWhite,
}

/// Name, linear base colour, roughness and metalness of each `Finish`, in declaration order.
/// Colours are the named RAL or sRGB colours converted to linear. Rubber and webbing are lifted
/// a little above true black because see-through headsets show black as transparent.
const FINISHES: [(&str, [f32; 3], f32, f32); 14] = [
    ("RAL 5015 sky blue", [0.016, 0.165, 0.451], 0.45, 0.0),
    ("RAL 7021 black grey", [0.028, 0.032, 0.034], 0.55, 0.0),
    ("RAL 7037 dust grey", [0.205, 0.212, 0.205], 0.6, 0.0),
    ("brushed steel", [0.63, 0.62, 0.6], 0.35, 1.0),
    ("RAL 7035 light grey", [0.597, 0.631, 0.604], 0.5, 0.0),
    ("filter paper", [0.831, 0.776, 0.61], 0.9, 0.0),
    ("RAL 7012 basalt grey", [0.076, 0.095, 0.089], 0.5, 0.0),
    ("brass", [0.91, 0.78, 0.42], 0.3, 1.0),
    ("RAL 3020 traffic red", [0.604, 0.002, 0.002], 0.4, 0.0),
    ("signal amber", [1.0, 0.434, 0.0], 0.35, 0.0),
    ("NBR rubber", [0.04, 0.04, 0.04], 0.85, 0.0),
    ("nylon webbing", [0.04, 0.04, 0.04], 0.9, 0.0),
    ("RAL 2004 orange", [0.905, 0.061, 0.006], 0.7, 0.0),
    ("dial white", [0.871, 0.871, 0.831], 0.3, 0.0),
];

impl Finish {
    fn material(self) -> Material {
        let (name, colour, roughness, metallic) = FINISHES[self as usize];
        // The pointer glows so it stays visible against any background.
        let emissive = (self == Self::Amber).then_some(colour);
        let mut material = Material::new(name, colour, roughness);
        (material.metallic, material.emissive) = (metallic, emissive);
        material
    }
}

type Parts = Vec<(Finish, MeshBuilder)>;

/// A document whose materials are created on first use.
#[derive(Default)]
struct Model {
    doc: GlbDocument,
    materials: Vec<(Finish, MaterialId)>,
}

impl Model {
    fn mesh(&mut self, name: &str, parts: Parts) -> MeshId {
        let parts = parts.into_iter().map(|(f, mesh)| (self.material(f), mesh));
        let parts = parts.collect();
        self.doc.add_mesh(name, parts)
    }

    /// A node named `name` showing `parts`, at `at` millimetres in its parent.
    fn part(&mut self, name: &str, parts: Parts, at: [i32; 3]) -> NodeId {
        let mut node = Node::new(name);
        (node.mesh, node.translation) = (Some(self.mesh(name, parts)), point(at));
        self.doc.add_node(node)
    }

    /// A static root over `children`, so that placing the model never fights an animation.
    fn root(&mut self, name: &str, children: Vec<NodeId>) {
        let mut node = Node::new(name);
        node.children = children;
        self.doc.add_node(node);
    }

    fn animate(&mut self, name: &str, channels: Vec<(NodeId, Keyframes)>) {
        self.doc.add_animation(name, channels);
    }

    fn material(&mut self, finish: Finish) -> MaterialId {
        if let Some(&(_, id)) = self.materials.iter().find(|(f, _)| *f == finish) {
            return id;
        }
        let id = self.doc.add_material(finish.material());
        self.materials.push((finish, id));
        id
    }

    fn build(self, file_name: &'static str, title: &'static str) -> DemoModel {
        let glb = self.doc.to_glb();
        DemoModel {
            file_name,
            title,
            glb,
        }
    }
}

fn pump() -> DemoModel {
    let mut model = Model::default();
    let bolts = [
        [-270, 20, -110],
        [-270, 20, 110],
        [270, 20, -110],
        [270, 20, 110],
    ];
    let base = vec![
        (Finish::BaseGrey, block([-300, 0, -140], [300, 20, 140])),
        (Finish::Steel, join(bolts.map(|at| along(Y, hex(9, 7), at)))),
    ];

    let fins = MeshBuilder::prism(&ribbed(24, 78, 88, 0.4), mm(220));
    let cowl = lathe(&profile(&[(0, 0), (88, 0), (88, 20), (80, 28), (0, 28)]));
    let housing = join([
        along(X, fins, [-270, SHAFT_Y, 0]),
        along(NEG_X, cowl, [-270, SHAFT_Y, 0]),
        rod(X, 82, 12, [-50, SHAFT_Y, 0]),
        block([-200, 222, -45], [-120, 270, 45]),
        block([-205, 270, -50], [-115, 278, 50]),
        block([-245, 20, -80], [-205, 75, 80]),
        block([-115, 20, -80], [-75, 75, 80]),
    ]);
    let gland_and_nameplate = join([
        rod(Z, 8, 16, [-160, 245, 44]),
        block([-190, 120, 88], [-130, 160, 91]),
    ]);
    let motor = vec![
        (Finish::MotorGrey, housing),
        (Finish::Steel, gland_and_nameplate),
    ];

    let lantern = lathe(&profile(&[(0, 0), (70, 0), (55, 38), (0, 38)]));
    let mut volute = profile(&[(0, 0)]);
    volute.extend(arc((77, 15), 15, -0.25, 0.0));
    volute.extend(arc((77, 65), 15, 0.0, 0.25));
    volute.extend(profile(&[(0, 80)]));
    let body = join([
        along(X, lantern, [-38, SHAFT_Y, 0]),
        along(X, lathe(&volute), [0, SHAFT_Y, 0]),
        rod(Y, 30, 120, [40, SHAFT_Y, -45]),
        rod(X, 30, 30, [80, SHAFT_Y, 0]),
        block([5, 20, -60], [75, 60, 60]),
    ]);

    // Suction pipe into the pump, discharge pipe up with its gauge, inlet pipe into the housing.
    let steel = join([
        rod(X, 45, 12, [110, SHAFT_Y, 0]),
        rod(X, 45, 12, [122, SHAFT_Y, 0]),
        rod(X, 24, 100, [120, SHAFT_Y, 0]),
        rod(Y, 45, 12, [40, 260, -45]),
        rod(Y, 24, 210, [40, 270, -45]),
        rod(Y, 48, 20, [40, 480, -45]),
        rod(Z, 6, 46, [40, 400, -45]),
        rod(Z, 32, 22, [40, 400, 0]),
        rod(Z, 21, 190, [HOUSING_X, VALVE[1], -190]),
        rod(Z, 45, 15, [HOUSING_X, VALVE[1], -205]),
    ]);
    let pipes = vec![
        (Finish::Steel, steel),
        (Finish::DialWhite, rod(Z, 28, 23, [40, 400, 0])),
        (Finish::LeverRed, block([39, 400, 23], [41, 424, 24])),
    ];

    let mut bowl = profile(&[(0, 20), (65, 20), (65, 30), (32, 45), (32, 52)]);
    bowl.extend(arc((35, 67), 15, -0.25, 0.0));
    // Up the wall to the rim's flange, then across the top, which the cap hides.
    let flange = RIM_Y - 14;
    bowl.extend(profile(&[
        (50, flange),
        (58, flange),
        (58, RIM_Y),
        (0, RIM_Y),
    ]));
    let housing = join([
        along(Y, lathe(&bowl), [HOUSING_X, 0, 0]),
        rod(NEG_Z, 30, 65, [HOUSING_X, VALVE[1], 0]),
        rod(NEG_X, 30, 65, [HOUSING_X, SHAFT_Y, 0]),
    ]);

    let parts = [
        ("base_plate", base),
        ("motor", motor),
        ("pump_body", vec![(Finish::PumpBlue, body)]),
        ("pipes", pipes),
        ("filter_housing", vec![(Finish::PumpBlue, housing)]),
    ];
    let parts = parts
        .into_iter()
        .map(|(name, p)| model.part(name, p, [0; 3]));
    let mut nodes: Vec<NodeId> = parts.collect();
    nodes.push(model.part("housing_cap", cap_parts(), [HOUSING_X, RIM_Y, 0]));
    let (valve_body, lever) = valve_parts();
    let lever = model.part("valve_lever", lever, [0, LEVER_PIVOT, 0]);
    let mut valve = Node::new("inlet_valve");
    valve.mesh = Some(model.mesh("inlet_valve", valve_body));
    (valve.translation, valve.children) = (point(VALVE), vec![lever]);
    nodes.push(model.doc.add_node(valve));
    model.root("CP-200 coolant pump", nodes);
    model.build("pump.glb", "CP-200 coolant pump")
}

/// The housing's screw cap about its bottom centre: knurled grip and a hex boss for a spanner.
fn cap_parts() -> Parts {
    let body = lathe(&profile(&[(0, 0), (56, 0), (56, 46), (50, 52), (0, 52)]));
    let grip = MeshBuilder::prism(&ribbed(30, 55, 61, 0.45), mm(36));
    let boss = hex(18, CAP_HEIGHT - 52);
    let cap = join([body, along(Y, grip, [0, 8, 0]), along(Y, boss, [0, 52, 0])]);
    vec![(Finish::CapGrey, cap)]
}

/// The valve body about the pipe axis, and its lever about the pivot, open: along −Z.
fn valve_parts() -> (Parts, Parts) {
    let ball = [(0, -30), (26, -30), (34, -15), (34, 15), (26, 30), (0, 30)];
    let ball = lathe(&profile(&ball));
    let body = join([
        along(Z, ball, [0; 3]),
        along(Z, hex(30, 16), [0, 0, 30]),
        along(Z, hex(30, 16), [0, 0, -46]),
        rod(Y, 10, LEVER_PIVOT, [0; 3]),
        along(Y, hex(13, 8), [0, 34, 0]),
    ]);
    let handle = join([
        block([-9, 0, -110], [9, 5, 8]),
        block([-11, -3, -110], [11, 8, -60]),
    ]);
    let lever = vec![(Finish::Steel, hex(9, 10)), (Finish::LeverRed, handle)];
    (vec![(Finish::Brass, body)], lever)
}

fn filter_cartridge() -> DemoModel {
    let mut model = Model::default();
    let end_cap = lathe(&profile(&[(14, 0), (35, 0), (35, 8), (14, 8), (14, 0)]));
    let handle = MeshBuilder::torus(mm(16), mm(3), 32, 12);
    let plastic = join([
        end_cap.clone(),
        along(Y, end_cap, [0, 172, 0]),
        handle.placed(point([0, 192, 0]), rotation(X, 0.25)),
    ]);
    let media = MeshBuilder::prism(&pleated(48, 29, 34), mm(164));
    let parts = vec![
        (Finish::EndCapGrey, plastic),
        (Finish::FilterMedia, along(Y, media, [0, 8, 0])),
        (Finish::Steel, lathe(&profile(&[(14, 172), (14, 8)]))),
    ];
    let cartridge = model.part("cartridge", parts, [0; 3]);
    model.root("filter_cartridge", vec![cartridge]);
    // Up 25 cm in 1.5 s, a pause, back down and a pause before the loop repeats.
    let stops = [(0.0, 0.0), (1.5, 0.25), (2.0, 0.25), (3.0, 0.0), (3.5, 0.0)];
    let lift = rise(&stops, 6);
    model.animate("slide_out", vec![(cartridge, lift)]);
    model.build("filter_cartridge.glb", "Pleated filter cartridge")
}

fn housing_cap() -> DemoModel {
    let mut model = Model::default();
    let cap = model.part("cap", cap_parts(), [0; 3]);
    model.root("housing_cap", vec![cap]);
    // A right-hand thread opens anticlockwise seen from above, which is positive about +Y:
    // three turns of a 4 mm pitch, in steps small enough that players cannot turn the short way.
    let turns = spin(&[(0.0, 0.0), (3.0, 3.0), (3.5, 3.0)], 24);
    let lift = rise(&[(0.0, 0.0), (3.0, 0.012), (3.5, 0.012)], 24);
    model.animate("unscrew", vec![(cap, turns), (cap, lift)]);
    model.build("housing_cap.glb", "Filter housing cap")
}

fn o_ring() -> DemoModel {
    let mut model = Model::default();
    let ring = MeshBuilder::torus(O_RING_MAJOR, O_RING_MINOR, 96, 12);
    model.part("o_ring", vec![(Finish::Rubber, ring)], [0; 3]);
    model.build("o_ring.glb", "Housing cap O-ring")
}

fn arrow() -> DemoModel {
    let mut model = Model::default();
    let head = lathe(&profile(&[(0, 0), (22, 45), (0, 45)]));
    let parts = vec![(Finish::Amber, join([head, rod(Y, 8, 105, [0, 45, 0])]))];
    let pointer = model.part("pointer", parts, [0; 3]);
    model.root("arrow", vec![pointer]);
    let bob = rise(&[(0.0, 0.0), (0.6, 0.03), (1.2, 0.0)], 6);
    model.animate("bob", vec![(pointer, bob)]);
    model.build("arrow.glb", "Pointer arrow")
}

fn strap_wrench() -> DemoModel {
    let mut model = Model::default();
    // A band of webbing 30 mm wide and 3 mm thick: a closed profile.
    let strap = [(63, -15), (66, -15), (66, 15), (63, 15), (63, -15)];
    let strap = lathe(&profile(&strap));
    let head = join([
        block([60, -20, -25], [100, 20, 25]),
        rod(X, 11, 20, [100, 0, 0]),
    ]);
    let mut grip = profile(&[(0, 0), (15, 0), (17, 60)]);
    grip.extend(arc((0, 110), 15, 0.0, 0.25));
    let parts = vec![
        (Finish::Strap, strap),
        (Finish::Steel, head),
        (Finish::GripOrange, along(X, lathe(&grip), [109, 0, 0])),
    ];
    model.part("strap_wrench", parts, [0; 3]);
    model.build("strap_wrench.glb", "Strap wrench")
}

fn valve() -> DemoModel {
    let mut model = Model::default();
    let (mut body, lever) = valve_parts();
    body.push((Finish::Steel, rod(Z, 21, 160, [0, 0, -80])));
    let body = model.part("valve_body", body, [0; 3]);
    let lever = model.part("lever", lever, [0, LEVER_PIVOT, 0]);
    model.root("ball_valve", vec![body, lever]);
    // Quarter-turn valves close clockwise seen from above, which is negative about +Y.
    let close = spin(&[(0.0, 0.0), (0.5, 0.0), (1.5, -0.25), (2.5, -0.25)], 6);
    model.animate("close", vec![(lever, close)]);
    model.build("valve.glb", "Inlet ball valve")
}

const X: Vec3 = Vec3::X;
const Y: Vec3 = Vec3::Y;
const Z: Vec3 = Vec3::Z;
const NEG_X: Vec3 = Vec3::NEG_X;
const NEG_Z: Vec3 = Vec3::NEG_Z;

const fn mm(mm: i32) -> f32 {
    mm as f32 / 1000.0
}

const fn metres(p: [i32; 3]) -> [f32; 3] {
    [mm(p[0]), mm(p[1]), mm(p[2])]
}

fn point(mm: [i32; 3]) -> Vec3 {
    metres(mm).into()
}

/// A lathe profile of (radius, height) millimetres.
fn profile(points: &[(i32, i32)]) -> Vec<Vec2> {
    points
        .iter()
        .map(|&(r, h)| Vec2::new(mm(r), mm(h)))
        .collect()
}

/// Enough segments for a smooth silhouette at arm's length, few enough for small files.
fn segments(radius: f32) -> u32 {
    match radius {
        r if r >= 0.04 => 48,
        r if r >= 0.012 => 32,
        _ => 24,
    }
}

fn lathe(profile: &[Vec2]) -> MeshBuilder {
    let radius = profile.iter().fold(0.0_f32, |r, p| r.max(p.x));
    MeshBuilder::lathe(profile, segments(radius))
}

/// `steps + 1` profile points on a quarter or so of a circle, from `from` to `to` turns.
fn arc((x, y): (i32, i32), radius: i32, from: f64, to: f64) -> Vec<Vec2> {
    const STEPS: u32 = 6;
    let point = |i| {
        let (s, c) = sin_cos_turns(from + (to - from) * f64::from(i) / f64::from(STEPS));
        Vec2::new(mm(x), mm(y)) + Vec2::new(c as f32, s as f32) * mm(radius)
    };
    (0..=STEPS).map(point).collect()
}

/// Lays a +Y-axis primitive along `axis` (±X, +Y or ±Z) with its base at `at` millimetres.
fn along(axis: Vec3, mesh: MeshBuilder, at: [i32; 3]) -> MeshBuilder {
    // A quarter turn about Y × axis takes +Y onto a horizontal axis.
    let turn = if axis == Y { 0.0 } else { 0.25 };
    mesh.placed(point(at), rotation(Y.cross(axis).normalize_or(X), turn))
}

fn rod(axis: Vec3, radius: i32, length: i32, at: [i32; 3]) -> MeshBuilder {
    let cylinder = MeshBuilder::cylinder(mm(radius), mm(length), segments(mm(radius)));
    along(axis, cylinder, at)
}

fn block(min: [i32; 3], max: [i32; 3]) -> MeshBuilder {
    MeshBuilder::cuboid(point(min), point(max))
}

fn hex(radius: i32, height: i32) -> MeshBuilder {
    MeshBuilder::prism(&outline(6, |i| (f64::from(i) / 6.0, radius)), mm(height))
}

fn join<const N: usize>(meshes: [MeshBuilder; N]) -> MeshBuilder {
    let mut joined = MeshBuilder::new();
    meshes.into_iter().for_each(|mesh| joined.append(mesh));
    joined
}

/// A closed outline of `count` points in the order prisms expect; `point(i)` gives the angle
/// in turns and the radius in millimetres of point `i`.
fn outline(count: u32, point: impl Fn(u32) -> (f64, i32)) -> Vec<Vec2> {
    let at = |(turns, radius): (f64, i32)| {
        let (s, c) = sin_cos_turns(turns);
        Vec2::new(c as f32, -s as f32) * mm(radius)
    };
    (0..count).map(|i| at(point(i))).collect()
}

/// Square ribs (motor fins, knurls), each `duty` of its pitch wide.
fn ribbed(ribs: u32, inner: i32, outer: i32, duty: f64) -> Vec<Vec2> {
    outline(ribs * 4, |i| {
        let offset = if i % 4 < 2 { 0.0 } else { duty };
        let radius = if matches!(i % 4, 1 | 2) { outer } else { inner };
        ((f64::from(i / 4) + offset) / f64::from(ribs), radius)
    })
}

/// A zigzag of `pleats` folds, like the paper of a filter cartridge.
fn pleated(pleats: u32, inner: i32, outer: i32) -> Vec<Vec2> {
    let radius = |i: u32| [outer, inner][i as usize % 2];
    let count = f64::from(pleats * 2);
    outline(pleats * 2, |i| (f64::from(i) / count, radius(i)))
}

/// Keyframes through `stops` of (seconds, value), `steps` per move, easing in and out of each
/// stop along a cosine so that even linear interpolation looks like a hand at work.
fn eased(stops: &[(f32, f32)], steps: u32) -> Vec<(f32, f32)> {
    let mut keys = stops[..1].to_vec();
    for pair in stops.windows(2) {
        let ((t0, from), (t1, to)) = (pair[0], pair[1]);
        let steps = if from == to { 1 } else { steps };
        for i in 1..=steps {
            let f = f64::from(i) / f64::from(steps);
            let ease = ((1.0 - sin_cos_turns(f * 0.5).1) * 0.5) as f32;
            keys.push((t0 + (t1 - t0) * f as f32, from + (to - from) * ease));
        }
    }
    keys
}

/// Translation keyframes through `stops` of (seconds, metres up).
fn rise(stops: &[(f32, f32)], steps: u32) -> Keyframes {
    let keys = eased(stops, steps).into_iter().map(|(t, up)| (t, Y * up));
    Keyframes::Translation(keys.collect())
}

/// Rotation keyframes through `stops` of (seconds, turns about +Y).
fn spin(stops: &[(f32, f32)], steps: u32) -> Keyframes {
    let keys = eased(stops, steps).into_iter();
    let keys = keys.map(|(t, turns)| (t, rotation(Y, f64::from(turns))));
    Keyframes::Rotation(keys.collect())
}

#[cfg(test)]
mod tests;
