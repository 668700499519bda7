"""The dbt project as Dagster sees it (its own module: @dbt_assets reads the manifest at import)."""

from dagster_dbt import DbtProject

from parlay.dbtenv import DBT_DIR

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
