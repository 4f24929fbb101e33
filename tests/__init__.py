"""Skewless tests: a regular package, so no installed top-level ``tests`` package shadows it.

marquez-python 0.50 installs its own ``tests`` package into site-packages; a regular package
there would win over this directory as a namespace package, breaking ``from tests.waiting ...``.
"""
