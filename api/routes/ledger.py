"""The ledger itself: health, checkpoint, consortium file, blocks, entries and proofs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import CallerDep, NodeDep, json_response
from api.routes.common import problems
from api.schemas import (
    BlockResponse,
    CheckpointResponse,
    ConsistencyProofResponse,
    EntryResponse,
    Health,
    InclusionProofResponse,
)

router = APIRouter(prefix="/v1")
HashPath = Annotated[
    str,
    Path(
        description="Entry hash (64 lowercase hex digits).",
        examples=["3f1c6f1e0b6b0b7f4c1d2a9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a"],
    ),
]


@router.get(
    "/health",
    response_model=Health,
    tags=["node"],
    summary="Liveness and the chain head",
    responses=problems(503),
)
async def health(node: NodeDep) -> Response:
    return json_response(node.health())


@router.get(
    "/checkpoint",
    response_model=CheckpointResponse,
    tags=["ledger"],
    summary="The latest checkpoint (signed note over the newest block)",
    responses=problems(503),
)
async def checkpoint(node: NodeDep) -> Response:
    return json_response(node.head.to_json())


@router.get(
    "/consortium",
    tags=["ledger"],
    summary="The consortium (genesis) file, byte for byte",
    description="The signed genesis file auditors need to replay the chain "
    "(`tradeledger audit replay --node URL`). Compare its hash with your own copy.",
    responses={
        200: {
            "description": "The genesis file.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **problems(503),
    },
)
async def consortium(node: NodeDep) -> Response:
    return Response(node.consortium_bytes, media_type="application/json")


@router.get(
    "/blocks/{height}",
    response_model=BlockResponse,
    tags=["ledger"],
    summary="A block: header, checkpoint and entries",
    description="Payloads are included only where the caller may read them (auditors read all).",
    responses=problems(401, 403, 404, 422),
)
def block(
    node: NodeDep,
    caller: CallerDep,
    height: Annotated[int, Path(ge=1, le=2**53, description="Block height (from 1).")],
) -> Response:
    return json_response(node.block(height, caller))


@router.get(
    "/entries/{entry_hash}",
    response_model=EntryResponse,
    tags=["ledger"],
    summary="One entry by hash: where it is, and its payload if the caller may read it",
    responses=problems(401, 403, 404, 422),
)
def entry(node: NodeDep, caller: CallerDep, entry_hash: HashPath) -> Response:
    return json_response(node.entry(entry_hash, caller))


@router.get(
    "/entries/{entry_hash}/inclusion-proof",
    response_model=InclusionProofResponse,
    tags=["proofs"],
    summary="RFC 9162 inclusion proof of an entry",
    description="`tree_size` must be the tree size of a block (default: the latest); the "
    "response carries that block's signed checkpoint.",
    responses=problems(401, 403, 404, 422),
)
def inclusion_proof(
    node: NodeDep,
    caller: CallerDep,
    entry_hash: HashPath,
    tree_size: Annotated[
        int | None, Query(ge=1, le=2**53, description="A block's tree size.")
    ] = None,
) -> Response:
    del caller  # members only
    return json_response(node.inclusion_proof(entry_hash, tree_size))


@router.get(
    "/consistency-proof",
    response_model=ConsistencyProofResponse,
    tags=["proofs"],
    summary="RFC 9162 consistency proof between two block tree sizes",
    responses=problems(401, 403, 422),
)
def consistency(
    node: NodeDep,
    caller: CallerDep,
    first: Annotated[int, Query(ge=1, le=2**53, description="The earlier block's tree size.")],
    second: Annotated[int, Query(ge=1, le=2**53, description="The later block's tree size.")],
) -> Response:
    del caller
    return json_response(node.consistency_proof(first, second))
