"""CrossGuard policy pack for llmops stacks."""
