"""Environments written the way the field writes them (`gymnasium.Env`), with the batch step a
planner needs: `pendulum` (an explicit ODE and its fixed-step solvers) and `mujoco_pendulum` (the
same pendulum in MuJoCo, through `gymnasium[mujoco]`)."""
