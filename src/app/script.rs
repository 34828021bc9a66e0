//! Scripted input for tests and demos: a text file of `FRAME ACTION` lines that a backend feeds
//! through the same path as real input (the frame loop turns both into the same commands).
//!
//! ```text
//! # frame  action          (frames count from 1, as the backend submits them)
//! 40       next
//! 80       next            → the demo shows step 3
//! 120      back
//! 130      step 5
//! 140      menu            (toggles the All list)
//! 160      open 2          (opens the All list's guide number 2)
//! 180      select          (selects what the head looks at; answers a sticker's question)
//! 190      answer 2        (the step's second answer button)
//! 195      enter 25.4      (types on the step's keypad, then OK; a text may hold spaces)
//! 200      exit            (asks the runtime to end the session)
//! ```
//! Frame numbers rather than seconds: a frame is what a test can count on any machine.

use std::num::NonZeroU32;

use thiserror::Error;

use super::Intent;

/// What an input source asks the frame loop for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Intent(Intent),
    /// Open or close the All list.
    Menu,
    /// Open the guide of this number (from 1) in the All list on screen.
    Open(NonZeroU32),
    /// Select along the head's gaze, as a pinch aimed by the head does.
    Select,
    /// N6: the step's answer of this number (from 1, as its buttons are in order).
    Answer(NonZeroU32),
    /// N6: type this on the step's keypad and press OK.
    Enter(String),
    /// End the session (as the user quitting would).
    Exit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedCommand {
    pub frame: u64,
    pub command: Command,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("input script line {line}: {reason}")]
pub struct ScriptError {
    pub line: usize,
    pub reason: String,
}

/// Parses a script; commands come back ordered by frame (stable for equal frames).
pub fn parse(text: &str) -> Result<Vec<ScriptedCommand>, ScriptError> {
    let mut commands = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fail = |reason: String| ScriptError { line, reason };
        let mut words = content.split_whitespace();
        let frame_word = words.next().unwrap_or("");
        let frame = frame_word
            .parse::<u64>()
            .ok()
            .filter(|f| *f >= 1)
            .ok_or_else(|| fail(format!("{frame_word:?} is not a frame number (1 or more)")))?;
        let action = words.next().ok_or_else(|| {
            fail(
                "a frame number needs an action after it (next, back, restart, step N, answer N, enter TEXT, menu, open N, select, exit)"
                    .into(),
            )
        })?;
        let command = match action.to_ascii_lowercase().as_str() {
            "next" => Command::Intent(Intent::Next),
            "back" => Command::Intent(Intent::Back),
            "restart" => Command::Intent(Intent::Restart),
            "menu" => Command::Menu,
            "exit" => Command::Exit,
            "select" => Command::Select,
            "step" => {
                let number = words.next().unwrap_or("");
                let step = number
                    .parse::<NonZeroU32>()
                    .map_err(|_| fail(format!("{number:?} is not a step number (1 or more)")))?;
                Command::Intent(Intent::GoToStep(step))
            }
            "answer" => {
                let number = words.next().unwrap_or("");
                let answer = number.parse::<NonZeroU32>().map_err(|_| {
                    fail(format!(
                        "{number:?} is not an answer number (1 or more, in the order of its buttons)"
                    ))
                })?;
                Command::Answer(answer)
            }
            "enter" => {
                // The rest of the line, spaces and all: a text answer may hold them.
                let typed = content
                    .split_once(char::is_whitespace)
                    .map(|(_, rest)| rest.trim_start())
                    .and_then(|rest| rest.split_once(char::is_whitespace))
                    .map(|(_, typed)| typed.trim())
                    .unwrap_or("");
                if typed.is_empty() {
                    return Err(fail(
                        "enter needs what to type after it (enter 25.4)".into(),
                    ));
                }
                commands.push(ScriptedCommand {
                    frame,
                    command: Command::Enter(typed.to_owned()),
                });
                continue;
            }
            "open" => {
                let number = words.next().unwrap_or("");
                let entry = number.parse::<NonZeroU32>().map_err(|_| {
                    fail(format!(
                        "{number:?} is not a number in the All list (1 or more)"
                    ))
                })?;
                Command::Open(entry)
            }
            other => {
                return Err(fail(format!(
                    "unknown action {other:?} (expected next, back, restart, step N, answer N, enter TEXT, menu, open N, select or exit)"
                )));
            }
        };
        if let Some(extra) = words.next() {
            return Err(fail(format!("unexpected {extra:?} after the action")));
        }
        commands.push(ScriptedCommand { frame, command });
    }
    commands.sort_by_key(|c| c.frame);
    Ok(commands)
}

/// Hands out the commands due at each frame, in order.
#[derive(Debug, Clone, Default)]
pub struct Player {
    commands: Vec<ScriptedCommand>,
    next: usize,
}

impl Player {
    pub fn new(commands: Vec<ScriptedCommand>) -> Self {
        Self { commands, next: 0 }
    }

    /// Commands whose frame is `frame` or earlier and that were not handed out yet.
    pub fn due(&mut self, frame: u64) -> impl Iterator<Item = Command> + '_ {
        let start = self.next;
        while self.next < self.commands.len() && self.commands[self.next].frame <= frame {
            self.next += 1;
        }
        self.commands[start..self.next]
            .iter()
            .map(|c| c.command.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_of_frames_and_actions_is_read_in_frame_order() {
        let script = "# advance twice\n80 next\n40 next\n\n120 step 5  # jump\n130 menu\n140 EXIT\n135 open 2\n150 select\n";
        let commands = parse(script).unwrap();
        let frames: Vec<u64> = commands.iter().map(|c| c.frame).collect();
        assert_eq!(frames, vec![40, 80, 120, 130, 135, 140, 150]);
        assert_eq!(
            commands[2].command,
            Command::Intent(Intent::GoToStep(NonZeroU32::new(5).unwrap()))
        );
        assert_eq!(commands[3].command, Command::Menu);
        assert_eq!(
            commands[4].command,
            Command::Open(NonZeroU32::new(2).unwrap())
        );
        assert_eq!(commands[5].command, Command::Exit);
        assert_eq!(commands[6].command, Command::Select);
    }

    #[test]
    fn enter_types_the_rest_of_the_line_spaces_and_all() {
        let commands = parse("10 enter 25.4\n20 enter  Serial AB 12  # the plate\n").unwrap();
        assert_eq!(commands[0].command, Command::Enter("25.4".into()));
        assert_eq!(commands[1].command, Command::Enter("Serial AB 12".into()));
        let refused = parse("10 enter   ").unwrap_err();
        assert!(
            refused.reason.contains("enter needs what to type"),
            "{refused}"
        );
    }

    #[test]
    fn a_malformed_script_line_is_refused_with_its_line_number() {
        let cases = [
            ("next", 1, "is not a frame number"),
            ("0 next", 1, "is not a frame number"),
            ("\n10", 2, "needs an action"),
            ("10 jump", 1, "unknown action \"jump\""),
            ("10 step zero", 1, "is not a step number"),
            ("10 step 0", 1, "is not a step number"),
            ("10 next please", 1, "unexpected \"please\""),
            ("-5 next", 1, "is not a frame number"),
            ("10 open", 1, "is not a number in the All list"),
            ("10 open 0", 1, "is not a number in the All list"),
            ("10 open two", 1, "is not a number in the All list"),
            ("10 open 2 3", 1, "unexpected \"3\""),
        ];
        for (text, line, reason) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
            assert!(error.reason.contains(reason), "{text:?}: {error}");
        }
    }

    #[test]
    fn the_player_hands_out_each_command_once_when_its_frame_comes() {
        let mut player = Player::new(parse("2 next\n2 back\n5 menu").unwrap());
        assert_eq!(player.due(1).count(), 0);
        assert_eq!(
            player.due(3).collect::<Vec<_>>(),
            vec![Command::Intent(Intent::Next), Command::Intent(Intent::Back)]
        );
        assert_eq!(player.due(4).count(), 0);
        assert_eq!(player.due(9).collect::<Vec<_>>(), vec![Command::Menu]);
        assert_eq!(player.due(10).count(), 0);
    }
}
