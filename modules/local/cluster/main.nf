// HVG, PCA, neighbours, Leiden and UMAP (liverannot cluster).
process LIVERANNOT_CLUSTER {
    tag "$meta.id"
    label 'process_medium'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    tuple val(meta), path(h5ad)

    output:
    tuple val(meta), path("*.clustered.h5ad"), emit: h5ad
    path "versions.yml", emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    liverannot cluster \
        --input ${h5ad} \
        --output ${prefix}.clustered.h5ad \
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.clustered.h5ad

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        liverannot: \$(liverannot --version | sed 's/liverannot //')
    END_VERSIONS
    """
}
