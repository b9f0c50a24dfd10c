//! copili planner.
