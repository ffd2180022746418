"""Benchmarks: `python -m bench` runs every module here and prints one table.

A bench module exposes `run(*, quick: bool) -> list[dict[str, object]]`: one dict per
measured case, its keys the table's columns (the first case's order wins; missing cells stay
empty). `quick` asks for CI-sized inputs. Benchmarks measure; they never assert timings.
"""
