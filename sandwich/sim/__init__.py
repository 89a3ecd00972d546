"""Simulated overseers: parametric skill profiles and LLM judges, run through the real study service.

Everything they produce is marked simulated in the database and SYNTHETIC in every report.
"""
