"""The service path: what a client of a hosted wafer service waits for beyond the wafer's own time.

The wafer's own figures (`ttft_s`, `tpot_s`: prefill and decode steps priced from the fabric) stop at the wafer's
edge. A client of a hosted service (Cerebras Inference, measured by Artificial Analysis) also waits for:

- the request's way in and out: client-API network round trip, request handling and tokenisation, once per
  request (`request_latency_s`);
- queueing for the prompt pipeline at the load the service runs: a prompt arriving at a pipeline busy a share
  `load` of the time with prompts of the same size waits, on average, load · S / (2 (1 - load)) for a prompt
  occupancy S (M/D/1 mean wait, Pollaczek-Khinchine formula with deterministic service);
- a host round trip per decode step (`host_round_trip_s`): the step's tokens leave the wafer, the host samples
  and streams them, the next tokens come back in. A micro-batch's cycle is then path + round trip, while the
  pipeline's throughput bound (micro-batches x busiest stage) is unchanged, so the round trip is hidden once
  enough micro-batches are in flight. With speculative decoding the tokens go out once per round (the draft's
  proposals stay on the wafer), so the round trip is paid once per verify step.

The constants live in the system's catalog `service` section with their sources; the two time constants are
calibrated on the calibration points of `perf/data/validation_wafer.toml` only (`calibrate_service`). None of
this changes the fabric's timing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from wafersim.catalog.systems import ServiceSpec


@dataclass(frozen=True)
class PerUser:
    """One sequence's view at one batch: the wafer's own time and (with a service section) the client's."""

    batch: int
    wafer_ttft_s: float
    wafer_tpot_s: float
    client_ttft_s: float | None = None
    client_tpot_s: float | None = None
    queue_s: float | None = None
    speculative: bool = False
    max_tpot_s: float | None = None  # the TPOT bound this batch was chosen within (None: none)

    @property
    def wafer_tokens_per_s_per_user(self) -> float:
        return 1.0 / self.wafer_tpot_s

    @property
    def client_tokens_per_s_per_user(self) -> float | None:
        return None if self.client_tpot_s is None else 1.0 / self.client_tpot_s

    def to_dict(self) -> dict:
        data = asdict(self)
        data["wafer_tokens_per_s_per_user"] = self.wafer_tokens_per_s_per_user
        data["client_tokens_per_s_per_user"] = self.client_tokens_per_s_per_user
        return data


def queue_wait_s(service: ServiceSpec, occupancy_s: float) -> float:
    """Mean wait for the prompt pipeline (M/D/1) at the service's load."""
    return service.load * occupancy_s / (2.0 * (1.0 - service.load))


def per_user(
    service: ServiceSpec | None, best, output_len: int, spec=None, max_tpot_s: float | None = None
) -> PerUser:
    """The wafer's and the client's per-sequence figures for the search's answer `best` (a `Phases`), with the
    speculative rounds `spec` (a fitting `SpeculativeResult`) when speculative decoding is used."""
    prefill_share = (best.batch - 1) / output_len * best.prefill_occupancy_s
    decode = best.decode
    if spec is not None:
        round_s = spec.tpot_s * spec.tokens_per_round
        wafer_tpot = spec.tpot_s + prefill_share
    else:
        wafer_tpot = best.tpot_s(output_len)
    view = PerUser(best.batch, best.ttft_s, wafer_tpot, speculative=spec is not None, max_tpot_s=max_tpot_s)
    if service is None:
        return view
    rtt = service.host_round_trip_s
    if spec is not None:
        client_step = (round_s + rtt) / spec.tokens_per_round
    else:
        client_step = max(decode.path_s + rtt, decode.micro_batches * decode.busiest_s)
    queue = queue_wait_s(service, best.prefill_occupancy_s)
    return PerUser(
        best.batch,
        best.ttft_s,
        wafer_tpot,
        client_ttft_s=service.request_latency_s + queue + best.ttft_s + rtt,
        client_tpot_s=client_step + prefill_share,
        queue_s=queue,
        speculative=spec is not None,
        max_tpot_s=max_tpot_s,
    )
