"""Request and response bodies of the HTTP API (pydantic). Routes live in server/api/routes/.

Non-finite numbers are rejected everywhere (allow_inf_nan=False): NaN sampling parameters get a 422.
The OpenAI-compatible bodies accept and ignore fields we do not use, as OpenAI's clients send some.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.store import TASK_ID_PATTERN as STORE_TASK_ID
from server.sampling import MAX_LOGPROBS
from sketch.prompts import template_message

TASK_ID_PATTERN = STORE_TASK_ID.pattern  # one definition: the store's (it guards the file names)
# what a request names to be served: a task id, or one of its kept LUT versions as task@version
MODEL_PATTERN = TASK_ID_PATTERN.removesuffix("$") + r"(@[0-9]{1,9})?$"


def split_version(model: str) -> tuple[str, int | None]:
    """A request's task (or OpenAI model) field -> (task id, version or None: the latest). "acme.boolq@2" pins a
    kept version (GET /v1/tasks/{task} lists them), e.g. to compare a new LUT with the one before it."""
    task, _, version = model.partition("@")
    return task, int(version) if version else None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class JsonSchemaFormat(BaseModel):
    """OpenAI's structured outputs: the output is kept valid for `schema` (server/json_schema.py lists the keywords
    enforced; one that cannot be enforced answers 400). `strict` true or false, the schema is enforced alike."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str | None = None
    schema_: dict | bool = Field(True, alias="schema", description="A JSON Schema; absent: any JSON value")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"] = Field(..., description="json_object: the output is a "
                                                                "JSON object; json_schema: a value of json_schema")
    json_schema: JsonSchemaFormat | None = None


class StructuredOutputs(BaseModel):
    """vLLM's `structured_outputs`: one of json (a JSON Schema), choice, regex, json_object; grammar answers 400."""

    json_: dict | bool | None = Field(None, alias="json", description="A JSON Schema the output is kept valid for")
    choice: list[str] | None = Field(None, description="The output is exactly one of these texts")
    json_object: bool | None = Field(None, description="JSON mode: the output is a JSON object")
    regex: str | None = Field(None, description="The output is a text this regular expression matches whole")
    grammar: str | None = Field(None, description="Not supported (400)")


class SamplingFields(BaseModel):
    """Sampling parameters shared by every generation endpoint."""

    model_config = ConfigDict(allow_inf_nan=False)

    max_tokens: int = Field(128, ge=1, description="Most tokens to generate")
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 = no top-k cut")
    stop: str | list[str] | None = Field(None, description="Stop strings (not included in the text)")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Per-request sampling seed")
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Subtracted once from each generated token's "
                                    "logit (OpenAI's definition)")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Subtracted per occurrence from each "
                                     "generated token's logit (OpenAI's definition)")
    repetition_penalty: float = Field(1.0, gt=0.0, le=10.0, description="Divides the positive (multiplies the "
                                      "negative) logits of prompt and generated tokens (transformers' definition)")
    logit_bias: dict[str, float] | None = Field(None, description="Token id (as a string, as OpenAI's clients send "
                                                "it) -> a value in [-100, 100] added to its logit")
    response_format: ResponseFormat | None = Field(None, description="{'type': 'json_object'}: JSON mode; "
                                                   "{'type': 'json_schema', 'json_schema': {'name', 'schema'}}: "
                                                   "structured outputs")
    stream: bool = False
    # vLLM's extensions of OpenAI's parameters, under vLLM's names
    ignore_eos: bool = Field(False, description="Keep generating past the end-of-sequence token, up to max_tokens "
                             "(benchmarks: every request generates the same number of tokens)")
    stop_token_ids: list[int] | None = Field(None, max_length=64, description="Token ids that end generation besides "
                                             "EOS (the token is not part of the text)")
    min_p: float = Field(0.0, ge=0.0, le=1.0, description="Drop the tokens less likely than min_p times the most "
                         "likely one (after temperature, top_k and top_p); 0 = off")
    min_tokens: int = Field(0, ge=0, description="Generate at least this many tokens (at most max_tokens): before "
                            "that, EOS and stop_token_ids cannot be drawn and stop strings end nothing")
    guided_json: dict | bool | None = Field(None, description="vLLM's: a JSON Schema the output is kept valid for "
                                            "(as response_format json_schema)")
    guided_choice: list[str] | None = Field(None, description="vLLM's: the output is exactly one of these texts")
    guided_regex: str | None = Field(None, max_length=4096, description="vLLM's: the output is a text this regular "
                                     "expression matches whole")
    structured_outputs: StructuredOutputs | None = Field(None, description="vLLM's newer form of the three above")

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


# ---- /v1/generate ------------------------------------------------------------------------------


class GenerateRequest(SamplingFields):
    model_config = ConfigDict(
        allow_inf_nan=False,
        extra="forbid",
        json_schema_extra={
            "examples": [{"task": "base", "prompt": "The capital of France is", "max_tokens": 16, "temperature": 0}]
        },
    )

    task: str = Field("base", pattern=MODEL_PATTERN, description="Task id; 'base' is the base model's LUT; "
                      "task@N serves its kept LUT version N instead of the latest")
    prompt: str = Field(..., min_length=1, description="Raw prompt text (no chat template applied)")
    max_tokens: int = Field(128, ge=0, description="Most tokens to generate; 0 (with prompt_logprobs) only scores "
                            "the prompt")
    logprobs: int | None = Field(None, ge=0, le=MAX_LOGPROBS, description="Return each generated token's "
                                 "log-probability under the model and this many most likely alternatives")
    prompt_logprobs: int | None = Field(None, ge=0, le=MAX_LOGPROBS, description="Return each prompt token's "
                                        "log-probability given the tokens before it, and this many alternatives")


class TokenAlternative(BaseModel):
    token_id: int
    token: str
    logprob: float


class GeneratedTokenLogprob(TokenAlternative):
    """A generated token, its log-probability under the model (before penalties, temperature and cuts), and the
    most likely tokens at its position."""

    top_logprobs: list[TokenAlternative]


class GenerateResponse(BaseModel):
    id: str
    task: str
    version: int = Field(..., description="The task LUT version that served it (0: the base)")
    text: str
    finish_reason: str
    usage: Usage
    logprobs: list[GeneratedTokenLogprob] | None = None
    prompt_logprobs: list[GeneratedTokenLogprob | None] | None = None  # the first prompt token's is null


class GenerateStreamEvent(BaseModel):
    """One SSE `data:` event of a streamed /v1/generate; the last one has finish_reason and usage."""

    id: str
    task: str
    version: int  # the task LUT version that serves it (0: the base)
    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    logprobs: list[GeneratedTokenLogprob] | None = None  # the tokens new in this event, with `logprobs` asked
    prompt_logprobs: list[GeneratedTokenLogprob | None] | None = None  # in the first event, with prompt_logprobs


# ---- OpenAI: /v1/completions --------------------------------------------------------------------


class StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(SamplingFields):
    model_config = ConfigDict(
        allow_inf_nan=False,
        extra="ignore",
        json_schema_extra={"examples": [{"model": "base", "prompt": "Once upon a time", "max_tokens": 16}]},
    )

    model: str = Field(..., pattern=MODEL_PATTERN, description="The task id (task@N: its kept LUT version N)")
    prompt: str | list[str] = Field(..., description="A prompt, or a list of prompts (choices in their order)")
    max_tokens: int = Field(16, ge=0, description="0 only with echo: the prompt is scored, nothing generated")
    echo: bool = Field(False, description="Return the prompt before the completion (with logprobs: its tokens' "
                       "log-probabilities first, the first one null)")
    temperature: float = Field(1.0, ge=0.0, le=5.0)
    n: int = Field(1, ge=1, description="Completions per prompt (prompts x n up to the server's max_choices)")
    logprobs: int | None = Field(None, ge=0, le=5, description="Log-probabilities of the generated tokens and of "
                                 "this many most likely alternatives at each position")
    stream_options: StreamOptions | None = None
    user: str | None = None


class CompletionLogprobs(BaseModel):
    """OpenAI's legacy completions shape: parallel lists, one entry per generated token."""

    tokens: list[str]
    token_logprobs: list[float | None]  # None: an echoed prompt's first token (no context to score it)
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str | None = None
    logprobs: CompletionLogprobs | None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    system_fingerprint: str | None = Field(None, description="What served it: the base's code fingerprint and the "
                                           "task LUT version, fp_<12 hex>_v<version> (v0: the base)")
    choices: list[CompletionChoice]
    usage: Usage | None = None


# ---- OpenAI: /v1/chat/completions ---------------------------------------------------------------


class TextContentPart(BaseModel):
    type: Literal["text"] = Field(..., description="Only text parts: this server serves a text model")
    text: str


class FunctionCall(BaseModel):
    name: str = Field(..., max_length=64)
    arguments: str = Field(..., description="The arguments, as JSON text (OpenAI's shape)")


class ToolCall(BaseModel):
    id: str = Field("", max_length=128)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"] = Field(..., description="developer: OpenAI's "
                                                                              "newer name of system, rendered as "
                                                                              "system; tool: a tool call's result")
    content: str | list[TextContentPart] | None = Field(None, description="A string, or OpenAI's list of content "
                                                        "parts (text parts, joined by newlines); None only for an "
                                                        "assistant turn with tool_calls")
    name: str | None = None  # (accepted as OpenAI's clients send it; chat templates take no names)
    tool_calls: list[ToolCall] | None = Field(None, max_length=128, description="An assistant turn's calls")
    tool_call_id: str | None = Field(None, max_length=128, description="A tool message: the call it answers")

    @model_validator(mode="after")
    def _content_or_calls(self) -> ChatMessage:
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message has tool_calls")
        if self.content is None and not self.tool_calls:
            raise ValueError("a message needs content (an assistant message may have tool_calls instead)")
        return self

    def template_message(self) -> dict:
        """The message as sketch.prompts.render_conversation reads it: {role, content} (developer as system, content
        parts joined), with an assistant's tool_calls and a tool message's tool_call_id."""
        content = self.content if isinstance(self.content, str | None) else "\n".join(p.text for p in self.content)
        message = template_message(self.role, content or "")
        if self.tool_calls:
            message["tool_calls"] = [c.model_dump() for c in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


class FunctionDefinition(BaseModel):
    name: str = Field(..., pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = Field(None, max_length=16384)
    parameters: dict | None = Field(None, description="A JSON Schema of the arguments object")
    strict: bool | None = None


class ToolDefinition(BaseModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(BaseModel):
    name: str


class NamedToolChoice(BaseModel):
    type: Literal["function"] = "function"
    function: NamedFunction


class ChatCompletionRequest(SamplingFields):
    model_config = ConfigDict(
        allow_inf_nan=False,
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"model": "base", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 16},
                {"model": "base", "messages": [{"role": "user", "content": "Describe Paris."}], "max_tokens": 64,
                 "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": {
                     "type": "object", "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
                     "required": ["name", "population"]}}}},
                {"model": "base", "messages": [{"role": "user", "content": "Weather in Paris?"}], "max_tokens": 64,
                 "tool_choice": "required", "tools": [{"type": "function", "function": {
                     "name": "get_weather", "parameters": {"type": "object", "properties": {
                         "city": {"type": "string"}}, "required": ["city"]}}}]},
            ]
        },
    )

    model: str = Field(..., pattern=MODEL_PATTERN, description="The task id (task@N: its kept LUT version N)")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=256)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=5.0)
    n: int = Field(1, ge=1, description="Completions of the conversation (up to the server's max_choices)")
    logprobs: bool = Field(False, description="Return the log-probability of each generated token")
    top_logprobs: int | None = Field(None, ge=0, le=MAX_LOGPROBS, description="With logprobs: this many most "
                                     "likely alternatives at each position")
    stream_options: StreamOptions | None = None
    user: str | None = None
    tools: list[ToolDefinition] | None = Field(None, max_length=128, description="Functions the model may call")
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = Field(
        None, description="auto (the default with tools): the answer is read as calls when it is one; required or a "
        "named function: the answer is calls, kept valid for the functions' parameters; none: no calls")
    parallel_tool_calls: bool = Field(True, description="False: an answer carries one call at most")

    def effective_max_tokens(self, default: int) -> int:
        return self.max_completion_tokens or self.max_tokens or default


class ChatTopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None


class ChatTokenLogprob(ChatTopLogprob):
    top_logprobs: list[ChatTopLogprob]


class ChatLogprobs(BaseModel):
    content: list[ChatTokenLogprob]


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: str | None = None
    logprobs: ChatLogprobs | None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    system_fingerprint: str | None = Field(None, description="What served it: the base's code fingerprint and the "
                                           "task LUT version, fp_<12 hex>_v<version> (v0: the base)")
    choices: list[ChatChoice]
    usage: Usage | None = None


# ---- /v1/tokenize, /v1/detokenize ----------------------------------------------------------------


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"prompt": "Hello world"}]})

    prompt: str | None = Field(None, max_length=1 << 20, description="Text, encoded as generation encodes it")
    messages: list[ChatMessage] | None = Field(None, min_length=1, max_length=256,
                                               description="Chat messages, through the chat template")  # fmt: skip
    tools: list[ToolDefinition] | None = Field(None, max_length=128, description="With messages: the functions, "
                                               "rendered as a chat completion renders them")


class TokenizeResponse(BaseModel):
    tokens: list[int]
    count: int
    max_model_len: int


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: list[int] = Field(..., max_length=1 << 16)


class DetokenizeResponse(BaseModel):
    prompt: str


# ---- models and tasks --------------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "sketchserve"
    version: int
    size_bytes: int
    resident: bool


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TaskInfo(BaseModel):
    task: str
    version: int
    versions: list[int] = Field(..., description="The stored versions, oldest first (the store keeps the last few; "
                                "GET /v1/tasks/{task}/lut?version=N downloads one)")
    sha256: str
    size_bytes: int
    resident: bool
    in_flight: int
    created: int
    lut_distance: float | None = Field(
        None, description="With the int8 activation mode on (the server's default on sm_90 GPUs): how far this "
        "version's LUT set lies from the base's, the largest over projections of ||W - W_base|| / ||W_base||, measured "
        "just after it first went ready in a GPU slot (null before then, or with the mode off; its steps run exact "
        "until then). Decode steps with a task beyond "
        "--int8-max-lut-distance run exact.", examples=[0.021])


class UploadResult(BaseModel):
    task: str
    version: int
    sha256: str
    size_bytes: int


class DeleteResult(BaseModel):
    task: str
    deleted_versions: int


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
