//! XR backends: the OpenXR runtime path (`openxr`), the desktop window (`window`), and the pure
//! pieces every backend shares — pointing at card buttons with a ray or with head-gaze dwell
//! (`pointer`) and scripted input for tests (`script`).

pub mod openxr;
pub mod pointer;
pub mod script;
pub mod window;

use crate::app::Intent;
use crate::scene::ButtonAction;

/// What pressing a card button asks the app for.
pub fn intent_for(action: ButtonAction) -> Intent {
    match action {
        ButtonAction::Back => Intent::Back,
        ButtonAction::Next | ButtonAction::Finish => Intent::Next,
        ButtonAction::Restart => Intent::Restart,
    }
}
