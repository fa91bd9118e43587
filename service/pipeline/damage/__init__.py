"""Damage on the print itself: finding it (a mask of what is broken) and filling it in.

Detectors (`lines` with `creases`, `specks`, `tears`, combined by `detect`) say where; `fill`
repairs what the mask covers and nothing else. The `repair_damage` operation
(`service.pipeline.ops.repair`) puts them together as a chain step.
"""
