"""The control core shared by the live control loop and the closed-loop evaluation.

`planning.PlanningCycle` turns forecasts, tariffs and the measured state into a dispatch plan;
`commands.commands_for_slot` turns a plan into device commands for one slot. Both are pure: the
live loop wraps them with the store and Modbus, the evaluation with the simulated district.
"""
