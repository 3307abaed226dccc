//! The command line's side of the lab: the control endpoint `mesh-lab up` serves and the client every
//! other command uses ([`control`]), the files `-f` names ([`files`]), and what `up` and `guided` serve
//! beside a lab ([`serve`]).

pub mod control;
pub mod files;
pub mod serve;
