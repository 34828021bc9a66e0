//! What the machine offers: the Monado runtime install, the probes `hologuide doctor` runs, and
//! free disk space.

pub mod disk;
pub mod monado;
pub mod probe;
