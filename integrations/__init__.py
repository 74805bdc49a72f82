"""Loaders for LangChain (``chunkwise.integrations.langchain``) and LlamaIndex
(``chunkwise.integrations.llamaindex``): the CLI's pipeline, options and error records as the
frameworks' documents and nodes. Each module imports its framework only when imported itself."""
