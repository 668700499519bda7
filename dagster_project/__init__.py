"""Dagster orchestration: assets per stage, asset checks, resources, schedules and sensors.

Kept import-light: ``dagster_project.definitions`` builds the code location.
"""
