//! The command line's side of the lab: the control endpoint `mesh-lab up` serves and the client every
//! other command uses ([`control`]), and the files `-f` names ([`files`]).

pub mod control;
pub mod files;
