//! Incidents end to end: severity, milestones, runbooks, checklists, export, drills.
