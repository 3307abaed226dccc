//! Tests of the lab scripts under `scripts/`.
//!
//! - every script passes `shellcheck` and `dash -n`;
//! - every repository file the scripts name exists;
//! - the cluster-facing scripts run against a fake `oc`/`kubectl` and a fake `curl`
//!   (`integration-tests/scripts/fake-*.sh`) on a PATH that holds nothing else but a few POSIX tools:
//!   no cluster, no network. Each test checks the commands issued, in order, and the verdicts.
//!   Every answer the fake gives is one a real cluster gives (docs/EGRESS-LAB-OPENSHIFT.md, "Tests");
//! - deploy.sh and the egress lab run on a stateful fake OpenShift (`fake_openshift/`), whose platform rules
//!   are tested case by case (`fake_rules.rs`).

mod chain;
mod clean_sh;
mod compose_files;
mod deploy_openshift;
mod deploy_sh;
mod fake_rules;
mod lab_dry_run;
mod lab_mesh_switch;
mod lab_openshift;
mod lab_step_2;
mod lab_steps_1_to_4;
mod lab_steps_5_to_13;
mod prerequisites;
mod run_sh;
mod sandbox;
mod static_checks;
