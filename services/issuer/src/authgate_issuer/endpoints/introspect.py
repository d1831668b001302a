"""Placeholder router: implemented in this round (see the issue)."""

from fastapi import APIRouter

router = APIRouter()
