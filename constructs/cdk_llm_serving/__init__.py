"""cdk-llm-serving: AWS CDK L3 constructs for serving LLMs."""
