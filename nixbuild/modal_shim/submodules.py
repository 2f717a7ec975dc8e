"""Modal's public submodules (``modal.functions``, ``modal.experimental``...), built from the
shim's parts.

App files import names from the module Modal defines them in (``from modal.container_process
import ContainerProcess``, ``import modal.experimental``), so each public submodule of modal
1.6.4 must import while the shim is active. Rather than a file of re-exports per submodule,
:func:`_layout` says which shim object each name is, and :func:`module` builds the module from
it. The shim files ``app``, ``exception`` and ``file_pattern_matcher`` are those submodules
themselves (:data:`FILES`).

Each module has the public names modal 1.6.4 defines there, less constants and helpers meant
for Modal's own code. Asking a module for another name raises :func:`no_attribute`'s error,
which says that ``modal`` is nixbuild's stand-in; modules modal 1.6.4 does not have
(``modal.gpu``, ``modal.snapshot``) do not import, as with the real client.
"""

from __future__ import annotations

import functools
import types
from typing import Any

FILES = ("app", "exception", "file_pattern_matcher")
"""Shim modules that are the Modal submodule of the same name."""


def no_attribute(module: str, name: str) -> AttributeError:
    # Say whose module this is: a plain "no attribute" would suggest the real client is broken.
    return AttributeError(
        f"module {module!r} has no attribute {name!r}: while nixbuild imports an app file, `{module}` is"
        " nixbuild's stand-in, which provides what app files use at import time"
    )


def built_modules() -> dict[str, types.ModuleType]:
    """Every built submodule by its full name (``modal.experimental.flash``...)."""
    return {f"modal.{name}": _build(name) for name in _layout()}


def module(name: str) -> types.ModuleType | None:
    """``modal.<name>``; None when modal 1.6.4 has no such submodule (or it is one of FILES)."""
    return _build(name) if name in _layout() else None


@functools.cache
def _build(name: str) -> types.ModuleType:
    qualname = f"modal.{name}"
    built = types.ModuleType(qualname, f"``{qualname}``: nixbuild's stand-in (:mod:`{__name__}`).")
    children = {child.rpartition(".")[2]: _build(child) for child in _layout() if child.rpartition(".")[0] == name}
    vars(built).update(_layout()[name], **children)
    built.__all__ = list(_layout()[name])  # type: ignore[attr-defined]

    def __getattr__(attribute: str) -> Any:
        raise no_attribute(qualname, attribute)

    built.__getattr__ = __getattr__  # type: ignore[method-assign]
    return built


@functools.cache
def _layout() -> dict[str, dict[str, Any]]:
    # Imported here: the shim package imports this module before its parts exist.
    from nixbuild.api import CloudBucketMount, Image, NetworkFileSystem, Secret, Volume
    from nixbuild.errors import InvalidError
    from nixbuild.modal_shim import decorators as d
    from nixbuild.modal_shim import remote as r
    from nixbuild.modal_shim import sandboxes as s
    from nixbuild.modal_shim import schedules as schedule
    from nixbuild.modal_shim.app import Function
    from nixbuild.modal_shim.handles import server_calls, stand_ins

    data = stand_ins(
        "modal.types",
        "TimeSeriesPoint MetricSeries MetricDefinition MetricsSchema ObjectMetrics InputStatus FileEntryType"
        " FileType FileWatchEventType LogSource SandboxRuntime LogEntry DictInfo QueueInfo SecretInfo"
        " VolumeCreateOptions VolumeInfo FunctionCurrentStats StatsPercentile StatsPercentileDistribution"
        " FunctionStats ServerStats InputInfo FileEntry FileInfo FileWatchEvent SandboxConnectCredentials"
        " WorkspaceMemberInfo TokenData MemberTokenInfo ServiceUserInfo ProxyTokenInfo WorkspaceSettings"
        " BillingReportItem SandboxGroupStats SandboxStats WorkspaceBillingSummary EnvironmentBillingSummary"
        " FunctionAutoscalerSettings ServerAutoscalerSettings VolumeMountInfo CloudBucketMountInfo FunctionInfo"
        " ServerContainerInfo ServerInfo ServerSessionCredentials AppState AppLifecycle AppInfo AppStats",
    )
    flash = {
        "http_server": d.http_server,
        **stand_ins("modal.experimental.flash", "FlashManager"),
        **server_calls("modal.experimental.flash", "flash_forward flash_get_containers"),
    }
    flash_server = {
        **stand_ins("modal.experimental.flash_server", "ServerManager"),
        **server_calls("modal.experimental.flash_server", "server_forward"),
    }
    stream = stand_ins(
        "modal.experimental.stream",
        "Stream StreamWriter StreamInfo AppendResult Entry StreamToken IdempotencyConflict StreamManager",
    )
    sidecars = stand_ins("modal.sandbox", "SidecarContainer SidecarManager")
    decorators = _pick(
        vars(d),
        "method web_endpoint fastapi_endpoint asgi_app wsgi_app web_server enter exit batched concurrent"
        " clustered sessioned",
    )
    return {
        "billing": {
            **server_calls("modal.billing", "workspace_billing_report"),
            **stand_ins("modal.billing", "WorkspaceBillingReportItem"),
            "BillingReportItem": data["BillingReportItem"],
        },
        "call_graph": _pick(data, "InputInfo InputStatus"),
        "client": {"Client": r.Client},
        "cloud_bucket_mount": {"CloudBucketMount": CloudBucketMount},
        "cls": {"Cls": r.Cls, "parameter": d.parameter, "is_parameter": d.is_parameter, **stand_ins("modal.cls", "Obj")},
        "cluster": {"Cluster": r.Cluster},
        "config": {"config": r.config, "Config": r.Config, "logger": r.logger},
        "container_process": {"ContainerProcess": s.ContainerProcess},
        "dict": {"Dict": r.Dict, **stand_ins("modal.dict", "DictManager")},
        "environments": {
            "Environment": r.Environment,
            **stand_ins("modal.environments", "EnvironmentManager"),
            **server_calls(
                "modal.environments", "create_environment delete_environment list_environments update_environment"
            ),
        },
        "experimental": {
            "clustered": d.experimental_clustered,
            "InvalidError": InvalidError,
            **server_calls(
                "modal.experimental",
                "stop_fetching_inputs get_local_input_concurrency set_local_input_concurrency get_cluster_info"
                " get_fabric_peers list_cluster_reservations list_deployed_apps get_app_lifecycle stop_app"
                " get_app_objects image_delete",
            ),
            **stand_ins(
                "modal.experimental",
                "ClusterInfo ClusterReservationTask ClusterReservation AppInfo AppLifecycle DockerfileSpec"
                " ImageBuilderVersion OutboundPolicy",
            ),
            **flash,
            **flash_server,
            **_pick(stream, "Stream StreamWriter StreamInfo AppendResult Entry StreamToken IdempotencyConflict"),
        },
        "experimental.flash": flash,
        "experimental.flash_server": flash_server,
        "experimental.ipython": {
            **stand_ins("modal.experimental.ipython", "ModalMagics"),
            **server_calls("modal.experimental.ipython", "load_ipython_extension"),
        },
        "experimental.stream": stream,
        "functions": {
            "Function": Function,
            "FunctionCall": r.FunctionCall,
            **stand_ins("modal.functions", "FunctionAutoscalerManager"),
        },
        "image": {"Image": Image},
        "io_streams": {"StreamReader": s.StreamReader, "StreamWriter": s.StreamWriter},
        "mount": {"Mount": r.Mount},
        "network_file_system": {"NetworkFileSystem": NetworkFileSystem},
        "object": stand_ins("modal.object", "Object"),
        "output": {"enable_output": r.enable_output, **stand_ins("modal.output", "OutputManager")},
        "partial_function": {**decorators, **stand_ins("modal.partial_function", "PartialFunction")},
        "proxy": {"Proxy": r.Proxy},
        "queue": {"Queue": r.Queue, **stand_ins("modal.queue", "QueueManager")},
        "retries": {"Retries": schedule.Retries, **stand_ins("modal.retries", "RetryManager")},
        "runner": {
            **server_calls("modal.runner", "run_app serve_update deploy_app interactive_shell"),
            **stand_ins("modal.runner", "DeployResult"),
        },
        "running_app": stand_ins("modal.running_app", "RunningApp"),
        "sandbox": {"Sandbox": s.Sandbox, "Probe": s.Probe, **sidecars},
        "sandbox.sandbox": {
            "Sandbox": s.Sandbox,
            "SandboxSnapshot": r.SandboxSnapshot,
            **sidecars,
            **stand_ins("modal.sandbox.sandbox", "SandboxFilesystem"),
        },
        "schedule": {"Cron": schedule.Cron, "Period": schedule.Period, "Schedule": schedule.Schedule},
        "scheduler_placement": {"SchedulerPlacement": schedule.SchedulerPlacement},
        "secret": {"Secret": Secret, **stand_ins("modal.secret", "SecretManager")},
        "server": {"Server": r.Server, **stand_ins("modal.server", "ServerAutoscalerManager")},
        "serving": server_calls("modal.serving", "serve_app"),
        "stream_type": {"StreamType": s.StreamType},
        "token_flow": stand_ins("modal.token_flow", "TokenFlow"),
        "types": data,
        "volume": {"Volume": Volume, **stand_ins("modal.volume", "VolumeManager")},
        "workspace": {
            "Workspace": r.Workspace,
            **stand_ins(
                "modal.workspace",
                "WorkspaceMembersManager WorkspaceMemberTokenManager WorkspaceProxyTokenManager"
                " WorkspaceServiceUserManager WorkspaceSettingsManager",
            ),
            **_pick(data, "ProxyTokenInfo TokenData WorkspaceMemberInfo WorkspaceSettings"),
        },
    }


def _pick(source: dict[str, Any], names: str) -> dict[str, Any]:
    return {name: source[name] for name in names.split()}
