"""Export: merge LoRA adapters into the 16-bit base, convert to GGUF, quantize with llama.cpp, write the Ollama Modelfile, verify."""
