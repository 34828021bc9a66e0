//! What the machine offers: the Monado runtime install, and the probes `hologuide doctor` runs.

pub mod monado;
pub mod probe;
